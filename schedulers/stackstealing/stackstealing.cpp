// stackstealing: Verona-RT's current work stealing (its three-stack
// WorkStealingQueue, src/rt/sched/ since mid-2026), which replaced the
// design `workstealing` follows (MPMC sub-queues and fairness tokens).
//
// Every worker owns Treiber stacks (boc/toolkit/treiber_stack.h):
//   inbox I     any thread pushes (work from outside the pool)
//   enqueue E   only the owner pushes (work it makes runnable)
//   dequeue D   4 stacks only the owner fills; it pops them one at a time
// and a next slot. Thieves take whole stacks, never one item.
//
//   dispatch(b) on worker w, released as a body ended:
//                               the previous occupant of w.next moves to E
//                               (wake a sleeper); w.next = b
//   dispatch(b) on worker w, from inside a running body, or released by a
//   body that scheduled some:   push b on E; wake a sleeper
//   dispatch(b) from outside:   push b on the inbox of the next worker in
//                               round-robin order; wake one
//   next(w):
//       w.next, if fewer than batch_limit taken from it in a row
//       pop one from D, rotating over the 4 (w.next, if any, moves to E)
//       D is empty: refill from one victim, then move the rotor on by one
//       w.next, batch or not
//       otherwise (block): search (D, refill from self, from each victim)
//       for spin_us while a peer is busy, then park until woken
//
//   refill(w, v): take one whole stack of v (I first, then a D or E), and
//       all of w's own E and I; deal them round-robin onto 4 buckets, each
//       item put in front (which turns the stacks' newest-first order into
//       roughly oldest-first): E's, then the stolen, then I's; detach the
//       front of the last bucket dealt to (that one runs now) and publish
//       the buckets as w's D stacks; wake a sleeper if any work was left.
//
// Fairness without a token: each time its D runs dry a worker looks at one
// peer (the rotor moves by one), so it looks at others once per batch of
// its own work, however long it keeps feeding itself.
//
// Where this differs from Verona-RT: work a body schedules while it runs
// goes to E, where idle peers can steal it, not to the next slot (Verona's
// schedule_fifo), which would hide it behind a body that may run on for
// long, while boc promises that behaviours on disjoint cowns make progress
// in parallel. And a successor released by a body that scheduled work goes
// to E too, behind that work: in a fan-out, the producer's next step would
// otherwise overtake its children batch after batch, piling them up. Both
// rules are `workstealing`'s, so the two differ in their queues. Idle
// workers park in boc's ParkingLot
// (per-worker, woken one at a time) instead of Verona's pause/unpause
// epochs, and spin before parking only while a peer is busy, as in
// `workstealing`, so that the two strategies differ in their queues alone.
// The core's dispatch-from-outside goes to an inbox, as Verona's
// schedule from an external thread does.
//
// Identities (at quiescence), per worker: behaviors_run == pop_next_slot +
// pop_dequeue + refill_own + steals (each behaviour counted where it was
// found); steal_attempts >= stolen_batches >= steals. In all,
// dispatch_next_slot + dispatch_local + dispatch_inbox == behaviours
// scheduled.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "boc/strategy.h"

namespace boc {
namespace {

constexpr std::size_t stacks = 4;  // D stacks per worker, as in Verona

struct StackStealingStats {
  Counter dispatch_next_slot, dispatch_local;
  SharedCounter dispatch_inbox;
  Counter slot_moves, pop_next_slot, pop_dequeue, refill_own, steals, steal_attempts, stolen_batches;
  SharedCounter wakeups;
};

enum class Order { light, heavy };  // which of a victim's stacks to try first: D (light) or E (heavy)

class StackStealing final : public ParkingStrategy<StackStealingStats> {
 public:
  explicit StackStealing(const Options& o)
      : batch_limit_(static_cast<std::size_t>(o.at("batch_limit"))),
        spin_(std::chrono::microseconds(o.at("spin_us"))) {}

  void attach(std::size_t workers) override {
    ParkingStrategy::attach(workers);
    workers_ = std::make_unique<Worker[]>(workers);
    count_ = workers;
    for (std::size_t i = 0; i < workers; ++i) {
      workers_[i].index = i;
      workers_[i].victim = (i + 1) % workers;
      workers_[i].batch_left = batch_limit_;
    }
  }

  void dispatch(Behaviour* b, WorkerContext* from) override {
    if (from != nullptr) {
      Worker& me = workers_[from->index()];
      if (from->running_body() || me.body_scheduled) {
        me.body_scheduled = true;
        me.enqueue.push(b);
        stats[me.index].dispatch_local.add();
        published(&me, ParkingLot::none);
        return;
      }
      if (me.next_slot != nullptr) {
        me.enqueue.push(std::exchange(me.next_slot, nullptr));
        stats[me.index].slot_moves.add();
        published(&me, ParkingLot::none);
      }
      me.next_slot = b;
      stats[me.index].dispatch_next_slot.add();
      return;
    }
    // Relaxed: the counter only spreads load.
    const std::size_t i = round_robin_.fetch_add(1, std::memory_order_relaxed) % count_;
    // Counted before the behaviour can run, so the totals add up at quiescence.
    stats[i].dispatch_inbox.add();
    workers_[i].inbox.push(b);
    published(nullptr, i);
  }

  Behaviour* next(WorkerContext& ctx, bool block) override {
    Worker& me = workers_[ctx.index()];
    Stats& s = stats[me.index];
    me.body_scheduled = false;  // a new body is about to run
    if (me.next_slot != nullptr && me.batch_left > 0) {
      --me.batch_left;
      s.pop_next_slot.add();
      return std::exchange(me.next_slot, nullptr);
    }
    me.batch_left = batch_limit_;
    if (Behaviour* b = pop_dequeue(me)) return instead_of_next_slot(me, b);
    Behaviour* b = refill(me, workers_[me.victim], Order::light);
    me.victim = (me.victim + 1) % count_;  // the fairness rotor: one peer per batch
    if (b != nullptr) return instead_of_next_slot(me, b);
    if (me.next_slot != nullptr) {
      s.pop_next_slot.add();
      return std::exchange(me.next_slot, nullptr);
    }
    if (!block) return nullptr;
    // Relaxed: the count only steers spinning.
    idle_.fetch_add(1, std::memory_order_relaxed);
    b = spin(me);
    if (b == nullptr) b = parking.wait(ctx, [&] { return search(me); });
    idle_.fetch_sub(1, std::memory_order_relaxed);
    return b;
  }

 private:
  struct alignas(platform::cache_line) Worker {
    // Shared: pushers, thieves and the owner, each stack on its own line.
    alignas(platform::cache_line) TreiberStack inbox;
    alignas(platform::cache_line) TreiberStack enqueue;
    struct alignas(platform::cache_line) Line {
      TreiberStack stack;
    };
    std::array<Line, stacks> dequeue;
    // Owner only.
    alignas(platform::cache_line) std::size_t index = 0;
    Behaviour* next_slot = nullptr;
    std::size_t batch_left = 0;
    std::size_t victim = 0;        // the peer the next refill looks at
    std::size_t pop_cursor = 0;    // the D stack the next pop tries first
    std::size_t deal_cursor = 0;   // the bucket the next refill deals to first
    std::size_t steal_cursor = 0;  // the victim's D stack the next steal tries first
    bool body_scheduled = false;   // the body that ran last scheduled work
  };

  Behaviour* instead_of_next_slot(Worker& me, Behaviour* b) noexcept {
    // `b` runs first; the slot's behaviour goes to E, where thieves can see it.
    if (me.next_slot != nullptr) {
      me.enqueue.push(std::exchange(me.next_slot, nullptr));
      stats[me.index].slot_moves.add();
      published(&me, ParkingLot::none);
    }
    return b;
  }

  Behaviour* pop_dequeue(Worker& me) noexcept {
    for (std::size_t k = 0; k < stacks; ++k) {
      const std::size_t i = (me.pop_cursor + stacks - k) % stacks;  // backwards, as Verona
      if (QueueNode* n = me.dequeue[i].stack.pop_owned()) {
        me.pop_cursor = i;
        stats[me.index].pop_dequeue.add();
        return static_cast<Behaviour*>(n);
      }
    }
    return nullptr;
  }

  // One whole stack of the victim: the inbox first, then a D stack (from
  // our steal cursor on) or E, in `order`.
  QueueNode* steal_stack(Worker& me, Worker& victim, Order order) noexcept {
    if (QueueNode* chain = victim.inbox.take_all()) return chain;
    auto from_dequeue = [&]() -> QueueNode* {
      for (std::size_t k = 0; k < stacks; ++k) {
        const std::size_t i = (me.steal_cursor + k) % stacks;
        if (QueueNode* chain = victim.dequeue[i].stack.take_all()) {
          me.steal_cursor = (i + 1) % stacks;
          return chain;
        }
      }
      return nullptr;
    };
    if (order == Order::light) {
      if (QueueNode* chain = from_dequeue()) return chain;
      return victim.enqueue.take_all();
    }
    if (QueueNode* chain = victim.enqueue.take_all()) return chain;
    return from_dequeue();
  }

  // See the pseudocode at the top. Only called with every D stack of `me`
  // empty (pop_dequeue just found none), so the buckets can be published
  // with plain stores.
  Behaviour* refill(Worker& me, Worker& victim, Order order) noexcept {
    Stats& s = stats[me.index];
    QueueNode* stolen = nullptr;
    if (&victim != &me) {
      s.steal_attempts.add();
      stolen = steal_stack(me, victim, order);
      if (stolen != nullptr) s.stolen_batches.add();
    }
    QueueNode* own_enqueue = me.enqueue.take_all();
    QueueNode* own_inbox = me.inbox.take_all();
    if (stolen == nullptr && own_enqueue == nullptr && own_inbox == nullptr) return nullptr;
    std::array<QueueNode*, stacks> bucket{};
    std::size_t k = me.deal_cursor, last = k;
    // Deals a chain out over the buckets; returns its length.
    auto deal = [&](QueueNode* chain) {
      std::size_t n = 0;
      for (; chain != nullptr; ++n) {
        QueueNode* rest = chain->queue_next.load(std::memory_order_relaxed);
        chain->queue_next.store(bucket[k], std::memory_order_relaxed);
        bucket[k] = chain;
        last = k;
        k = (k + 1) % stacks;
        chain = rest;
      }
      return n;
    };
    deal(own_enqueue);
    const std::size_t taken = deal(stolen);
    if (taken > 0) trace_steal(me.index, victim.index, taken);
    deal(own_inbox);
    me.deal_cursor = k;
    // The front of the last bucket dealt to is the last item dealt: from
    // our inbox if it had any, else from the stolen stack, else from E.
    QueueNode* run = bucket[last];
    bucket[last] = run->queue_next.load(std::memory_order_relaxed);
    if (own_inbox != nullptr || stolen == nullptr) {
      s.refill_own.add();
    } else {
      s.steals.add();
    }
    bool left = false;
    for (std::size_t i = 0; i < stacks; ++i) {
      if (bucket[i] == nullptr) continue;
      me.dequeue[i].stack.publish_owned(bucket[i]);
      left = true;
    }
    me.pop_cursor = last;
    // The work was out of sight while it was dealt: let a sleeper share it.
    if (left) published(&me, ParkingLot::none);
    return static_cast<Behaviour*>(run);
  }

  // Everything an idle worker tries, once: D, its own E and I, each peer.
  Behaviour* search(Worker& me) noexcept {
    if (Behaviour* b = pop_dequeue(me)) return b;
    if (Behaviour* b = refill(me, me, Order::heavy)) return b;
    for (std::size_t k = 1; k < count_; ++k) {
      Worker& victim = workers_[me.victim];
      me.victim = (me.victim + 1) % count_;
      if (&victim == &me) continue;
      if (Behaviour* b = refill(me, victim, Order::heavy)) return b;
    }
    return nullptr;
  }

  // Search for spin_ while a peer is busy (it may make work any moment);
  // when every worker is idle, only outside threads can, at their own
  // pace: park at once.
  Behaviour* spin(Worker& me) {
    const auto started = std::chrono::steady_clock::now();
    for (unsigned round = 1;; ++round) {
      if (Behaviour* b = search(me)) return b;
      // Relaxed: a heuristic.
      if (parking.stop_requested() || idle_.load(std::memory_order_relaxed) >= count_) return nullptr;
      if (round % 8 == 0) {
        if (std::chrono::steady_clock::now() - started >= spin_) return nullptr;
        std::this_thread::yield();  // let a preempted producer or thief finish
      } else {
        platform::cpu_relax();
      }
    }
  }

  void published(Worker* waker, std::size_t prefer) noexcept {
    if (waker == nullptr) {
      const std::size_t woken = parking.wake_one(prefer, prefer + 1, count_);
      if (woken != ParkingLot::none) stats[woken].wakeups.add();
      return;
    }
    // Never itself (it may be announced while it searches): the others.
    if (parking.wake_one(prefer, waker->index + 1, count_ - 1) != ParkingLot::none) {
      stats[waker->index].wakeups.add();
    }
  }

  const std::size_t batch_limit_;
  const std::chrono::steady_clock::duration spin_;
  std::size_t count_ = 0;
  std::unique_ptr<Worker[]> workers_;
  alignas(platform::cache_line) std::atomic<std::size_t> round_robin_{0};
  alignas(platform::cache_line) std::atomic<std::size_t> idle_{0};
};

using S = StackStealingStats;
const RegisterScheduler registration(strategy<StackStealing>({
    .name = "stackstealing",
    .description = "Verona-RT's current work stealing: per-worker Treiber stacks (an inbox, four dequeue stacks, "
                   "an enqueue stack), refilled by stealing whole stacks, a next slot, no fairness token",
    .options =
        {
            {"batch_limit",
             "behaviours a worker may take in a row from its next slot before it serves its stacks", 100, 1,
             1'000'000},
            {"spin_us",
             "microseconds an idle worker keeps looking for work before it parks, while a peer is busy (else it "
             "parks at once)",
             20, 0, 1'000'000},
        },
    .counters =
        {
            {&S::dispatch_next_slot, "dispatch_next_slot",
             "behaviours this worker made runnable, put in its next slot (an earlier one there moves to its E "
             "stack)"},
            {&S::dispatch_local, "dispatch_local",
             "behaviours put on this worker's E stack: scheduled from inside its bodies, or released by a body "
             "that had scheduled some"},
            {&S::dispatch_inbox, "dispatch_inbox",
             "behaviours dispatched from outside the pool onto this worker's inbox (counted on the receiving "
             "worker)"},
            {&S::slot_moves, "slot_moves",
             "behaviours moved from this worker's next slot to its E stack (by a newer one, or to run other work "
             "first)"},
            {&S::pop_next_slot, "pop_next_slot", "behaviours this worker took from its next slot", "next slot"},
            {&S::pop_dequeue, "pop_dequeue", "behaviours this worker popped from its D stacks", "dequeue stacks"},
            {&S::refill_own, "refill_own",
             "behaviours this worker ran straight from a refill out of its own E stack and inbox", "own stacks"},
            {&S::steals, "steals",
             "behaviours this worker ran straight from a stack it stole (the rest joins its D stacks)", "stolen"},
            {&S::steal_attempts, "steal_attempts", "times this worker looked at a peer's stacks"},
            {&S::stolen_batches, "stolen_batches", "times this worker took a whole stack from a peer"},
            {&S::wakeups, "wakeups",
             "parked peers this worker woke to take work it made visible (a wake-up by an outside thread counts "
             "on the worker woken)"},
        },
}));

}  // namespace
}  // namespace boc
