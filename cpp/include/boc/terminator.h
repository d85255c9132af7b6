// Counts behaviours in flight and lets threads wait, without polling, for
// the count to reach zero (quiescence).
//
// One shared counter touched by every behaviour would bounce its cache line
// between cores twice per behaviour. So workers keep credits: a behaviour
// that finishes on a worker becomes a credit there instead of a decrement,
// and a behaviour the worker schedules spends a credit instead of an
// increment. The shared count is therefore
//
//     count = behaviours in flight + credits held by workers     (credits >= 0)
//
// so it never reads zero while anything is in flight; a worker hands its
// credits back (flush) before it waits for work, so once nothing is in
// flight every worker soon waits and the count reaches zero. A chain of
// behaviours that schedule each other on one worker touches no shared
// memory at all.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace boc {

class Terminator {
 public:
  using Clock = std::chrono::steady_clock;

  // Finished behaviours a worker has not yet taken off the shared count.
  // Written only by its worker thread; atomic (relaxed loads and stores,
  // plain moves on common hardware) only so that other threads may read an
  // estimate of what is really in flight (see Runtime::behaviours_in_flight).
  struct Credits {
    std::atomic<std::int64_t> held{0};

    std::int64_t get() const noexcept { return held.load(std::memory_order_relaxed); }
    void set(std::int64_t n) noexcept { held.store(n, std::memory_order_relaxed); }
  };

  // A behaviour is scheduled by the worker owning `credits`.
  void add(Credits& credits) noexcept {
    const std::int64_t held = credits.get();
    if (held > 0) {
      credits.set(held - 1);
      return;
    }
    // Relaxed: a behaviour is added by the thread that schedules it, always
    // before any removal it could cause (a nested behaviour is added while
    // its parent still counts), and one atomic's modification order follows
    // each thread's program order, so the count cannot touch zero early.
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  // A behaviour is scheduled by a thread outside the pool. seq_cst: the
  // caller then reads whether the runtime still accepts outside work, and a
  // closer writes that flag before it waits for zero (see Runtime::close);
  // with both pairs seq_cst, either the closer sees this behaviour counted
  // or the caller sees the runtime closed and calls discard().
  void add_outside() noexcept { count_.fetch_add(1, std::memory_order_seq_cst); }

  // Undoes add_outside() for a behaviour that will not run after all.
  void discard() noexcept { take(1); }

  // A behaviour finished on the worker owning `credits`.
  void remove(Credits& credits) noexcept { credits.set(credits.get() + 1); }

  // Hands the worker's credits back to the shared count.
  void flush(Credits& credits) noexcept {
    const std::int64_t n = credits.get();
    if (n == 0) return;
    credits.set(0);
    take(n);
  }

  // Behaviours in flight plus credits not yet handed back: zero exactly
  // when the runtime is quiescent and every worker has flushed.
  std::int64_t in_flight() const noexcept { return count_.load(std::memory_order_acquire); }

  // True once nothing is in flight; false if `deadline` passed first.
  bool wait_until(Clock::time_point deadline) {
    // seq_cst: see take().
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    bool done;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done = zero_.wait_until(lock, deadline,
                              [&] { return count_.load(std::memory_order_seq_cst) == 0; });
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return done;
  }

 private:
  void take(std::int64_t n) noexcept {
    // seq_cst on both sides of the waiter handshake (this decrement and the
    // load of waiters_, against wait_until's increment of waiters_ and load
    // of count_): at least one side sees the other, so a waiter is either
    // notified or sees zero itself. The mutex is taken only when someone
    // waits, keeping the common path to one atomic operation.
    if (count_.fetch_sub(n, std::memory_order_seq_cst) == n && waiters_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> guard(mutex_);
      zero_.notify_all();
    }
  }

  std::atomic<std::int64_t> count_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;
  std::condition_variable zero_;
};

}  // namespace boc
