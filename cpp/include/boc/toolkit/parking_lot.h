// Parking idle workers: each on its own condition variable, woken one at a
// time by whoever has work for it. No broadcast, no lost wake-up. Also the
// stop request every strategy needs, and wait(): the whole idle loop for a
// strategy whose search for work is one function.
//
// The handshake is a store-then-load on each side (Dekker's pattern), all
// of it seq_cst, so that the accesses fall into one total order:
//
//   worker going to sleep                 thread that published work
//   ---------------------                 -----------------------------
//   announce():                            put the work in a queue: a
//     sleepers += 1                          seq_cst exchange on its back
//     sleeping = true                      wake_one():
//   look for work in every queue,            if sleepers == 0: done
//     reading each back (seq_cst)            find a worker with sleeping,
//   found some: cancel() and go on           claim it (sleeping = false)
//   none:       sleep() until claimed        and signal its condition variable
//
// Either the publisher's queue write comes first in that order, and the
// sleeper's search (which follows its announcement) sees it; or the
// announcement comes first, and the publisher sees the count and the flag.
// So a worker only sleeps when every piece of work published before it
// looked has been seen by someone awake, or someone will wake it.
//
// What a queue must do to take part: its publish is a seq_cst write (an
// exchange, a CAS) and the search reads it with a seq_cst read, as the
// lock-free queues of the toolkit do (MpmcQueue's back, TreiberStack's
// head). A queue under a mutex may instead read anyone_asleep() inside
// its critical section (see locked_queue.h).
//
// The hot path pays nothing extra on x86 or ARMv8: a seq_cst exchange is
// the same instruction as an acq_rel one, and a seq_cst load of a quiet
// counter is a plain (or acquire) load. (Standalone fences would do the
// same job, but cost a full barrier per publish, and ThreadSanitizer does
// not model them.) The mutex is touched only when somebody really sleeps.
//
// The count is incremented before the flag is raised, and a claimer lowers
// it only after seeing the raised flag (acquire), so the count never drops
// below the number of raised flags: a publisher that reads zero may skip
// the scan of the flags.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>

#include "boc/behaviour.h"
#include "boc/platform.h"
#include "boc/worker.h"

namespace boc {

class ParkingLot {
 public:
  static constexpr std::size_t none = static_cast<std::size_t>(-1);

  ParkingLot() = default;
  ParkingLot(const ParkingLot&) = delete;
  ParkingLot& operator=(const ParkingLot&) = delete;

  // Once, before any worker starts (from Scheduler::attach).
  void attach(std::size_t workers) {
    count_ = workers;
    spots_ = std::make_unique<Spot[]>(workers);
  }

  // --- The worker's side -------------------------------------------------

  // Declares that worker `w` is about to sleep. Afterwards the worker must
  // look for work once more (every queue, with real attempts to take it),
  // then call cancel() if it found any or sleep() if not.
  void announce(std::size_t w) noexcept {
    // seq_cst: the worker's store half of the handshake (see above).
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    // seq_cst: likewise; and as a release, a claimer that reads `true` also
    // sees the count include us, so its decrement comes after our increment.
    spots_[w].sleeping.store(true, std::memory_order_seq_cst);
  }

  // Withdraws the announcement. False if a publisher claimed the worker in
  // the meantime (it is then awake anyway; the signal it sends is harmless).
  bool cancel(std::size_t w) noexcept {
    // acq_rel: the same claim as a publisher's, so exactly one side wins.
    if (!spots_[w].sleeping.exchange(false, std::memory_order_acq_rel)) return false;
    // Relaxed: the count's invariant (see above) rests on the order of our
    // own increment before this, not on this operation's order.
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return true;
  }

  // Blocks until a publisher (or stop) claims the worker; counts a park.
  void sleep(WorkerContext& worker) {
    worker.stats().parks.add();
    if (TraceRing* t = worker.trace()) t->record(TraceRecord::park, platform::tick());
    Spot& s = spots_[worker.index()];
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      // Acquire: pairs with the claimer's exchange. The claimer takes the
      // mutex after claiming, so the flag cannot change unseen between this
      // check and the wait.
      while (s.sleeping.load(std::memory_order_acquire)) s.wake.wait(lock);
    }
    if (TraceRing* t = worker.trace()) t->record(TraceRecord::wake, platform::tick());
  }

  // --- The publisher's side ----------------------------------------------

  // Called after work was published in a queue: wakes one sleeping worker,
  // `prefer` if it sleeps, else the first sleeper among the `candidates`
  // workers from `start` on (cyclically). Returns the worker woken, or
  // `none`.
  std::size_t wake_one(std::size_t prefer, std::size_t start, std::size_t candidates) noexcept {
    // seq_cst: the publisher's load half of the handshake, after its
    // seq_cst queue write.
    if (sleepers_.load(std::memory_order_seq_cst) == 0) return none;
    if (prefer != none && claim(prefer)) return prefer;
    for (std::size_t k = 0; k < candidates; ++k) {
      const std::size_t w = (start + k) % count_;
      if (claim(w)) return w;
    }
    return none;
  }

  // Whether any worker is announced or asleep: the publisher's read of the
  // handshake, for a queue that makes it inside its own lock.
  bool anyone_asleep() const noexcept {
    // seq_cst: the handshake's load (see above).
    return sleepers_.load(std::memory_order_seq_cst) != 0;
  }

  // Wakes any one sleeping worker; the worker woken, or `none`.
  std::size_t wake_any() noexcept { return wake_one(none, 0, count_); }

  // Wakes every sleeping worker, after the caller stored (seq_cst) what
  // every worker must see before it sleeps, such as a stop request.
  void wake_all() noexcept {
    for (std::size_t w = 0; w < count_; ++w) claim(w);
  }

  // --- Stopping ------------------------------------------------------------

  // Asks every worker to finish: wakes the sleepers; announced workers see
  // the request before they sleep.
  void stop() noexcept {
    // seq_cst: store-then-load against a worker's announcement and its read
    // of the flag in stop_requested(): it sees the stop, or wake_all() sees
    // its flag.
    stop_.store(true, std::memory_order_seq_cst);
    wake_all();
  }

  // True once stop() was called. Read it after announce() to decide
  // whether to sleep.
  bool stop_requested() const noexcept { return stop_.load(std::memory_order_seq_cst); }

  // --- The whole idle loop ---------------------------------------------------

  // For a strategy whose search for work is one call: `search()` returns a
  // behaviour it took, or null. Returns a behaviour, or null once a stop
  // was requested and the search found nothing.
  template <class Search>
  Behaviour* wait(WorkerContext& worker, Search&& search) {
    for (;;) {
      if (Behaviour* b = search()) return b;
      if (stop_requested()) return nullptr;
      announce(worker.index());
      // The handshake's second look: work published before our announcement
      // is found here; work published after it wakes us.
      Behaviour* b = search();
      if (b != nullptr || stop_requested()) {
        cancel(worker.index());
        if (b != nullptr) return b;
        continue;  // search once more, then leave
      }
      sleep(worker);
    }
  }

  // How many workers are announced or asleep. Relaxed: a snapshot, for tests.
  std::size_t sleepers() const noexcept { return sleepers_.load(std::memory_order_relaxed); }

 private:
  struct alignas(platform::cache_line) Spot {
    std::atomic<bool> sleeping{false};
    std::mutex mutex;
    std::condition_variable wake;
  };

  bool claim(std::size_t w) noexcept {
    Spot& s = spots_[w];
    // seq_cst: this read of the flag is part of the handshake (a publisher
    // that reads `false` here must come before the sleeper's announcement).
    // It also skips awake workers without writing their line.
    if (!s.sleeping.load(std::memory_order_seq_cst)) return false;
    // acq_rel: acquire pairs with announce()'s release (our decrement comes
    // after its increment); release pairs with sleep()'s acquire load.
    if (!s.sleeping.exchange(false, std::memory_order_acq_rel)) return false;
    // Relaxed: ordered after the increment by the acquire above.
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    // Taking the mutex orders the claim against a sleeper that checked the
    // flag under it: either it saw `false`, or it is already waiting.
    { std::lock_guard<std::mutex> guard(s.mutex); }
    s.wake.notify_one();
    return true;
  }

  std::size_t count_ = 0;
  std::unique_ptr<Spot[]> spots_;
  alignas(platform::cache_line) std::atomic<std::size_t> sleepers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace boc
