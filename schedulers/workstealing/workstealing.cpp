#include "workstealing.h"

#include <chrono>
#include <functional>
#include <thread>
#include <utility>

namespace boc::workstealing {

// --- Registration --------------------------------------------------------

const std::vector<OptionInfo>& option_infos() {
  static const std::vector<OptionInfo> options = {
      {"sub_queues", "independent MPMC sub-queues in each worker's queue", 4, 1, 64},
      {"batch_limit",
       "behaviours a worker may take in a row from its next slot before it serves its queue", 100, 1,
       1'000'000},
      {"fairness",
       "1: a worker whose fairness token has come round steals once before running more of its own work; 0: it "
       "steals only when its own queue is empty (cheaper where every worker keeps its own queue busy)",
       1, 0, 1},
      {"spin_us",
       "microseconds an idle worker keeps looking for work before it parks, while a peer is busy (else it parks at once)",
       20, 0, 1'000'000},
  };
  return options;
}

Config Config::from(const Options& options) {
  Config c;
  c.sub_queues = static_cast<std::size_t>(options.at("sub_queues"));
  c.batch_limit = static_cast<std::size_t>(options.at("batch_limit"));
  c.fairness = options.at("fairness") != 0;
  c.spin_ns = static_cast<std::uint64_t>(options.at("spin_us")) * 1000;
  return c;
}

namespace {
using S = WorkStealingStats;
const RegisterScheduler registration(strategy<WorkStealingScheduler>({
    .name = "workstealing",
    .description =
        "Verona-style work stealing: per-worker MPMC sub-queues, a next slot for producer locality, fairness "
        "tokens, per-worker parking",
    .options = option_infos(),
    .counters =
        {
            {&S::dispatch_next_slot, "dispatch_next_slot",
             "behaviours released by bodies this worker ran, put in its next slot (an earlier one there moves to "
             "its queue)"},
            {&S::dispatch_local, "dispatch_local",
             "behaviours put in this worker's own queue: scheduled from inside its bodies, or released by a body "
             "that had scheduled some"},
            {&S::dispatch_remote, "dispatch_remote",
             "behaviours dispatched from outside the pool into this worker's queue (counted on the receiving "
             "worker)"},
            {&S::pop_next_slot, "pop_next_slot", "behaviours this worker took from its next slot", "next slot"},
            {&S::pop_queue, "pop_queue", "behaviours this worker took from its own queue", "own queue"},
            {&S::steal_attempts, "steal_attempts",
             "times this worker tried to steal from a peer, one victim each (= steals + steal_failures)"},
            {&S::steals, "steals",
             "behaviours this worker got by stealing (the rest of a stolen batch joins its own queue)", "stolen"},
            {&S::steal_failures, "steal_failures",
             "steal attempts that got no behaviour (the victim had none, or only tokens, or a race)"},
            {&S::token_fires, "token_fires",
             "times this worker's fairness token came round while it had work, making it steal once"},
            {&S::wakeups, "wakeups",
             "parked peers this worker woke to take work it queued (a wake-up by an outside thread counts on the "
             "worker woken)"},
        },
}));
}  // namespace

// --- Set-up and statistics ------------------------------------------------

WorkStealingScheduler::WorkStealingScheduler(const Config& config) : config_(config) {}

WorkStealingScheduler::~WorkStealingScheduler() = default;

void WorkStealingScheduler::attach(std::size_t workers) {
  ParkingStrategy::attach(workers);
  count_ = workers;
  fair_ = config_.fairness && workers > 1;
  tokens_ = std::make_unique<Token[]>(workers);
  for (std::size_t i = 0; i < workers; ++i) {
    auto w = std::make_unique<Worker>(i, config_.sub_queues, stats[i]);
    w->batch_left = config_.batch_limit;
    w->victim = i;  // the first steal goes to the next worker
    workers_.push_back(std::move(w));
  }
}

bool WorkStealingScheduler::drained() const noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    const Worker& w = *workers_[i];
    // Acquire: pairs with the release of whoever sent the token home.
    if (!w.queue.is_empty() || w.next_slot != nullptr || !tokens_[i].home.load(std::memory_order_acquire)) {
      return false;
    }
  }
  return true;
}

// --- Tokens ---------------------------------------------------------------

BOC_ALWAYS_INLINE bool WorkStealingScheduler::is_token(const QueueNode* n) const noexcept {
  // Tokens live in one array, behaviours elsewhere: a range check says which.
  const void* p = n;
  const void* first = tokens_.get();
  const void* last = tokens_.get() + count_;
  return std::less_equal<const void*>{}(first, p) && std::less<const void*>{}(p, last);
}

BOC_ALWAYS_INLINE bool WorkStealingScheduler::sieve(QueueNode* n) noexcept {
  if (!is_token(n)) return true;
  // Release: our reads of the token's link (while taking it from a queue)
  // come before its owner, acquiring `home`, links it into a queue again.
  static_cast<Token*>(n)->home.store(true, std::memory_order_release);
  return false;
}

// --- Dispatch -------------------------------------------------------------

void WorkStealingScheduler::dispatch(Behaviour* b, WorkerContext* from) {
  if (from != nullptr) {
    Worker& me = worker(from->index());
    if (from->running_body() || me.body_scheduled) {
      // Scheduled from inside a body, which may go on for long: into our
      // own queue, where an idle peer can take it, and wake one to do so.
      // A successor released by a body that scheduled work queues behind
      // that work: a producer's continuation must not overtake its own
      // children (it would run ahead, batch after batch, piling them up).
      me.body_scheduled = true;
      me.stats.dispatch_local.add();
      me.queue.enqueue(b);
      published(&me, ParkingLot::none);
      return;
    }
    // Released as a body finished: this worker looks for work right now,
    // so the behaviour waits in the next slot (producer locality). One
    // already there moves to the back of our queue, where peers may steal it.
    me.stats.dispatch_next_slot.add();
    if (Behaviour* previous = std::exchange(me.next_slot, b)) {
      me.queue.enqueue(previous);
      published(&me, ParkingLot::none);
    }
    return;
  }
  // From outside the pool: round-robin over the workers. Relaxed: the
  // counter only spreads load.
  const std::size_t i = round_robin_.fetch_add(1, std::memory_order_relaxed) % count_;
  Worker& target = worker(i);
  // Counted before the behaviour can run, so the totals add up at
  // quiescence. Relaxed: a statistic.
  target.stats.dispatch_remote.add();
  target.queue.enqueue(b);
  published(nullptr, i);
}

void WorkStealingScheduler::wake_sleeper(Worker* waker, std::size_t prefer) noexcept {
  if (waker == nullptr) {
    const std::size_t woken = parking.wake_one(prefer, prefer + 1, count_);
    if (woken != ParkingLot::none) worker(woken).stats.wakeups.add();
    return;
  }
  // A worker never wakes itself (it may be announced as sleeping while it
  // searches, and it is awake): the candidates are the others, from the
  // next one on.
  if (parking.wake_one(prefer, waker->index + 1, count_ - 1) != ParkingLot::none) waker->stats.wakeups.add();
}

// --- Taking work ----------------------------------------------------------

BOC_ALWAYS_INLINE Behaviour* WorkStealingScheduler::take_next_slot(Worker& me) noexcept {
  me.stats.pop_next_slot.add();
  return std::exchange(me.next_slot, nullptr);
}

Behaviour* WorkStealingScheduler::instead_of_next_slot(Worker& me, Behaviour* b) noexcept {
  // `b` runs first: the slot's behaviour goes to the back of our queue
  // (where a peer may steal it) instead of jumping ahead of it again.
  if (me.next_slot != nullptr) {
    me.queue.enqueue(std::exchange(me.next_slot, nullptr));
    published(&me, ParkingLot::none);
  }
  return b;
}

Behaviour* WorkStealingScheduler::fairness_steal(Worker& me) noexcept {
  // Off, or alone (no one to be fair to), the token stays home. And it only
  // saves work; a stopping worker drains its queue anyway.
  if (!fair_ || parking.stop_requested()) return nullptr;
  Token& token = token_of(me);
  // Acquire: pairs with sieve()'s release, before we link the token again.
  if (!token.home.load(std::memory_order_acquire)) return nullptr;
  // Without work of our own there is nothing to be fair about: the token
  // stays home (in no queue), so it keeps no one from parking.
  if (me.next_slot == nullptr && me.queue.is_empty()) return nullptr;
  Behaviour* b = nullptr;
  if (me.token_sent) {  // the first trip is not a fire: the token starts at home
    me.stats.token_fires.add();
    b = steal_next_victim(me);
  }
  me.token_sent = true;
  // Relaxed: the enqueue's release publishes it; whoever pops the token
  // (and sets `home` again) acquired it through the queue, so this store
  // comes first.
  token.home.store(false, std::memory_order_relaxed);
  me.queue.enqueue(&token);
  return b;
}

Behaviour* WorkStealingScheduler::pop_own(Worker& me, bool* contended) noexcept {
  for (;;) {
    std::size_t lost = 0;
    QueueNode* n = me.queue.dequeue(lost);
    if (lost != 0 && contended != nullptr) *contended = true;
    if (n == nullptr) return nullptr;
    if (!sieve(n)) continue;  // a token: sent home, look again
    me.stats.pop_queue.add();
    return static_cast<Behaviour*>(n);
  }
}

Behaviour* WorkStealingScheduler::steal_from(Worker& me, std::size_t victim, bool* contended) noexcept {
  WorkStealingQueue::StealResult r = me.queue.steal(worker(victim).queue, [this](QueueNode* n) { return sieve(n); });
  me.stats.steal_attempts.add();
  if (r.lost_race && contended != nullptr) *contended = true;
  if (r.moved > 0) {
    // Stolen work now waits in our queue: let a sleeper share it.
    published(&me, ParkingLot::none);
    if (r.node == nullptr && contended != nullptr) *contended = true;
  }
  if (r.node == nullptr) {
    me.stats.steal_failures.add();
    return nullptr;
  }
  me.stats.steals.add();
  trace_steal(me.index, victim, r.moved + 1);
  return static_cast<Behaviour*>(r.node);
}

Behaviour* WorkStealingScheduler::steal_next_victim(Worker& me) noexcept {
  if (count_ < 2) return nullptr;
  me.victim = (me.victim + 1) % count_;
  if (me.victim == me.index) me.victim = (me.victim + 1) % count_;
  return steal_from(me, me.victim);
}

WorkStealingScheduler::Found WorkStealingScheduler::search(Worker& me) noexcept {
  Found f;
  if ((f.behaviour = pop_own(me, &f.contended))) return f;
  for (std::size_t k = 1; k < count_; ++k) {
    me.victim = (me.victim + 1) % count_;
    if (me.victim == me.index) me.victim = (me.victim + 1) % count_;
    if ((f.behaviour = steal_from(me, me.victim, &f.contended))) return f;
  }
  return f;
}

Behaviour* WorkStealingScheduler::next(WorkerContext& ctx, bool block) {
  Worker& me = worker(ctx.index());
  me.body_scheduled = false;  // a new body is about to run
  // 1. Locality: what this worker dispatched last, a batch at a time.
  if (me.next_slot != nullptr && me.batch_left > 0) {
    --me.batch_left;
    return take_next_slot(me);
  }
  me.batch_left = config_.batch_limit;
  // 2. Fairness: our token has come round; look at a peer first.
  if (Behaviour* b = fairness_steal(me)) return instead_of_next_slot(me, b);
  // 3. Our own queue.
  if (Behaviour* b = pop_own(me)) return instead_of_next_slot(me, b);
  // 4. Our queue is empty: that, too, is a reason to look at a peer.
  if (Behaviour* b = steal_next_victim(me)) return instead_of_next_slot(me, b);
  // 5. The next slot, batch or not.
  if (me.next_slot != nullptr) return take_next_slot(me);
  if (!block) return nullptr;
  return wait_for_work(me, ctx);
}

bool WorkStealingScheduler::may_leave(Worker& me) noexcept {
  // Acquire on `home`: pairs with sieve()'s release by whoever brought the
  // token back; after that no one touches it.
  return me.next_slot == nullptr && me.queue.is_empty() && token_of(me).home.load(std::memory_order_acquire);
}

Behaviour* WorkStealingScheduler::wait_for_work(Worker& me, WorkerContext& ctx) {
  // Relaxed: the count only steers spinning; no correctness rests on it.
  idle_.fetch_add(1, std::memory_order_relaxed);
  Behaviour* b = find_or_park(me, ctx);
  idle_.fetch_sub(1, std::memory_order_relaxed);
  return b;
}

Behaviour* WorkStealingScheduler::find_or_park(Worker& me, WorkerContext& ctx) {
  using Clock = std::chrono::steady_clock;
  const auto spin = std::chrono::nanoseconds(config_.spin_ns);
  for (;;) {
    // Spin: our queue, then every peer in turn, until spin_us has passed
    // without work (or a race that suggests there is some). Only while a
    // peer is busy: it may queue work any moment. When every worker is
    // idle, new work can only come from outside the pool, at its own pace,
    // so we park at once and leave the cores to whoever produces it.
    const auto started = Clock::now();
    for (unsigned round = 1;; ++round) {
      const Found f = search(me);
      if (f.behaviour != nullptr) return f.behaviour;
      if (parking.stop_requested()) {
        // Stopping: leave once our queue is empty and our token home. A
        // token still travelling sits in a queue whose owner is draining
        // it, or in a thief's hands for a moment.
        if (may_leave(me)) return nullptr;
        std::this_thread::yield();
        continue;
      }
      if (!f.contended) {
        // Relaxed: a heuristic (see above).
        const bool all_idle = idle_.load(std::memory_order_relaxed) >= count_;
        if (all_idle || spin.count() == 0 || (round % 8 == 0 && Clock::now() - started >= spin)) break;
      }
      if (round % 8 == 0) {
        std::this_thread::yield();  // let a preempted producer or thief finish
      } else {
        platform::cpu_relax();
      }
    }
    // Park: announce, search once more for real, then sleep or withdraw.
    parking.announce(me.index);
    const Found f = search(me);
    // After our announcement, stop_requested() is the handshake's read
    // against ParkingLot::stop(): we see the stop, or it wakes us.
    if (f.behaviour != nullptr || f.contended || parking.stop_requested()) {
      parking.cancel(me.index);
      if (f.behaviour != nullptr) return f.behaviour;
      continue;
    }
    parking.sleep(ctx);
  }
}

}  // namespace boc::workstealing
