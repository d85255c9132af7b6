// Work stealing, as in verona-rt's scheduler (SchedulerThread, Core,
// ThreadPool), behind boc's strategy interface.
//
// Every worker owns a WorkStealingQueue (N MPMC sub-queues), a one-deep
// "next slot", a fairness token and a parking spot. In pseudocode:
//
//   dispatch(b) on worker w, released as a body ended:   -- producer locality
//       if that body scheduled work: append b to w's queue, wake a sleeper
//       else: if w.next is taken: move it to the back of w's queue, wake a
//             sleeper; w.next = b
//   dispatch(b) on worker w, from inside a running body:
//       append b to w's queue, wake a sleeper
//   dispatch(b) from outside the pool:                   -- spread
//       append b to the queue of the next worker in round-robin order;
//       wake that worker if it sleeps, else any sleeper
//
// (Verona puts every dispatch from a worker in its next slot. A successor
// released at the end of a body is best there: its worker is about to look
// for work. But a body that schedules work and then runs on for long would
// hide that work from idle peers; so work scheduled from inside a body
// goes to the queue at once. WorkerContext::running_body() tells which.
// And a body's successor queues behind the work that body scheduled: in a
// fan-out, the producer's next step would otherwise overtake its children
// again and again, up to batch_limit steps ahead, piling children up.)
//
//   next(w):
//       if w.next and fewer than batch_limit taken from it in a row:
//           take w.next                                 -- fast path
//       if fairness is on, w has peers, its token has    -- fairness
//       come round and it has work:
//           steal once from the next victim; send the token round again
//       take from w's own queue                         -- FIFO-ish, N sub-queues
//       or steal once, as if the token had come round
//       or take w.next (batch or not)
//       otherwise (block): look for work -- own queue, then every victim in
//       turn -- for spin_us while some peer is busy, then park until woken
//
//   steal(w, v): take the whole of one of v's sub-queues, keep the first
//       behaviour, spread the rest over w's own sub-queues, wake a sleeper.
//
// Whenever a behaviour is taken from somewhere other than the next slot
// while the slot is full, the slot's behaviour moves to the back of the
// queue, so it can be stolen and waits its turn like the rest.
//
// Fairness token: a QueueNode per worker that travels through its owner's
// queue like a behaviour (and can be carried off by a thief with a stolen
// batch). Whoever pops a token sends it home (a flag; the node leaves all
// queues). When the owner next decides what to run and finds its token
// home while it still has work, it steals once before running more of its
// own, and sends the token round again. So a worker that keeps feeding
// itself (a long chain of self-rescheduling behaviours) still looks at its
// peers' queues once per trip through its own queue. A worker without work
// keeps its token home: tokens never keep anyone from parking.
//
// The guarantee has a price where every worker keeps its own queue busy
// with short behaviours on shared cowns: a trip is then a few behaviours
// long, the token steals every few of them, what it takes moves cowns
// between caches, and a producer relieved of its work runs ahead of a
// serial consumer into a backlog that no longer fits in the cache (the
// native bench's banking; README, "Against Verona-RT"). `fairness=0` keeps
// tokens home; a worker then steals only when its own queue is empty, and a
// behaviour queued behind a long body waits for that body to end.
//
// Parking: see boc/toolkit/parking_lot.h. Before sleeping a worker announces itself, then
// searches once more, really taking work (a token found on the way is sent
// home, not counted as work). Anyone who puts a behaviour in a queue runs
// the publisher's half of the handshake and wakes one sleeper directly:
// the queue's owner if it is the one asleep (dispatch from outside), else
// any other. An idle worker spins before parking only while some peer is
// still busy (it may produce work any moment); when every worker is idle,
// work can only come from outside the pool, and it parks at once.
//
// Shutdown (after quiescence; only tokens can be left in queues): stop is
// stored and every sleeper woken. A stopping worker drains its own queue
// and leaves only once its own token is home; tokens are only ever queued
// by their owner into its own queue, or by a thief into its own queue, and
// every worker drains its own queue before it leaves, so when the last
// worker leaves every queue is empty and every token home (drained()).
//
// Statistics identities (at quiescence, counters read after the run):
//   per worker:  behaviors_run  == pop_next_slot + pop_queue + steals
//   per worker:  steal_attempts == steals + steal_failures
//   pool:        sum(dispatch_next_slot + dispatch_local + dispatch_remote)
//             == sum(pop_next_slot + pop_queue + steals)
//             == sum(behaviors_run) == behaviours scheduled
// Each dispatch is counted once, by where the behaviour went (for outside
// threads, on the receiving worker); each behaviour handed to the core is
// counted once, by where it was found. Tokens are counted in neither.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "boc/strategy.h"

namespace boc::workstealing {

struct Config {
  std::size_t sub_queues = 4;
  std::size_t batch_limit = 100;
  bool fairness = true;
  std::uint64_t spin_ns = 20'000;

  static Config from(const Options& options);
};

// The strategy's counters (described in its registration). Each is written
// by its worker only, except the two that outside threads add to.
struct WorkStealingStats {
  Counter dispatch_next_slot, dispatch_local;
  SharedCounter dispatch_remote;
  Counter pop_next_slot, pop_queue, steal_attempts, steals, steal_failures, token_fires;
  SharedCounter wakeups;
};

const std::vector<OptionInfo>& option_infos();

class WorkStealingScheduler final : public ParkingStrategy<WorkStealingStats> {
 public:
  explicit WorkStealingScheduler(const Config& config);
  explicit WorkStealingScheduler(const Options& options) : WorkStealingScheduler(Config::from(options)) {}
  ~WorkStealingScheduler() override;

  void attach(std::size_t workers) override;
  void dispatch(Behaviour* b, WorkerContext* from) override;
  Behaviour* next(WorkerContext& w, bool block) override;

  // For tests, once every worker has left next(): no behaviour or token in
  // any queue or next slot, and every token home.
  bool drained() const noexcept;
  std::size_t sleepers() const noexcept { return parking.sleepers(); }

 private:
  // A worker's fairness token. `home` is true while the node is in no queue
  // and its owner has to send it round again.
  struct alignas(platform::cache_line) Token : QueueNode {
    std::atomic<bool> home{true};
  };

  struct alignas(platform::cache_line) Worker {
    Worker(std::size_t index, std::size_t sub_queues, Stats& stats)
        : index(index), queue(sub_queues), stats(stats) {}

    const std::size_t index;
    // Shared: producers, thieves and the owner.
    WorkStealingQueue queue;
    // Owner only (the worker's thread).
    alignas(platform::cache_line) Behaviour* next_slot = nullptr;
    std::size_t batch_left = 0;
    std::size_t victim = 0;      // the last worker stolen from (or tried)
    bool body_scheduled = false; // the body that ran last scheduled work
    bool token_sent = false;     // the token has been sent round at least once
    Stats& stats;                // this worker's entry of `stats`
  };

  // What a search of the queues found.
  struct Found {
    Behaviour* behaviour = nullptr;
    bool contended = false;  // work may exist that a race kept us from taking
  };

  Worker& worker(std::size_t i) noexcept { return *workers_[i]; }
  Token& token_of(Worker& w) noexcept { return tokens_[w.index]; }

  bool is_token(const QueueNode* n) const noexcept;
  bool sieve(QueueNode* n) noexcept;  // true for a behaviour; sends tokens home

  Behaviour* take_next_slot(Worker& me) noexcept;
  Behaviour* instead_of_next_slot(Worker& me, Behaviour* b) noexcept;
  Behaviour* fairness_steal(Worker& me) noexcept;
  Behaviour* pop_own(Worker& me, bool* contended = nullptr) noexcept;
  Behaviour* steal_from(Worker& me, std::size_t victim, bool* contended = nullptr) noexcept;
  Behaviour* steal_next_victim(Worker& me) noexcept;
  Found search(Worker& me) noexcept;
  Behaviour* wait_for_work(Worker& me, WorkerContext& ctx);
  Behaviour* find_or_park(Worker& me, WorkerContext& ctx);
  bool may_leave(Worker& me) noexcept;
  // After queuing work: the publisher's half of the parking handshake,
  // inline, as mostly no one sleeps; then wake_sleeper(), which wakes one
  // (`prefer` first; never `waker` itself).
  void published(Worker* waker, std::size_t prefer) noexcept {
    if (parking.anyone_asleep()) wake_sleeper(waker, prefer);
  }
  void wake_sleeper(Worker* waker, std::size_t prefer) noexcept;

  const Config config_;
  std::size_t count_ = 0;
  bool fair_ = false;  // fairness on, and a peer to be fair to
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Token[]> tokens_;
  alignas(platform::cache_line) std::atomic<std::size_t> round_robin_{0};
  // Workers inside wait_for_work (spinning or parked).
  alignas(platform::cache_line) std::atomic<std::size_t> idle_{0};
};

}  // namespace boc::workstealing
