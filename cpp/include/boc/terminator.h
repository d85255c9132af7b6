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
  // Owned by one worker thread; never shared.
  struct Credits {
    std::int64_t held = 0;
  };

  // A behaviour is scheduled; `credits` are the scheduling worker's, or
  // null on a thread outside the pool.
  void add(Credits* credits) noexcept {
    if (credits != nullptr && credits->held > 0) {
      --credits->held;
      return;
    }
    // Relaxed: a behaviour is added by the thread that schedules it, always
    // before any removal it could cause (a nested behaviour is added while
    // its parent still counts), and one atomic's modification order follows
    // each thread's program order, so the count cannot touch zero early.
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  // A behaviour finished on the worker owning `credits`.
  void remove(Credits& credits) noexcept { ++credits.held; }

  // Hands the worker's credits back to the shared count.
  void flush(Credits& credits) noexcept {
    if (credits.held == 0) return;
    const std::int64_t n = credits.held;
    credits.held = 0;
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

  // Behaviours in flight plus credits not yet handed back: zero exactly
  // when the runtime is quiescent and every worker has flushed.
  std::int64_t in_flight() const noexcept { return count_.load(std::memory_order_acquire); }

  // True once nothing is in flight; false if `deadline` passed first.
  bool wait_until(Clock::time_point deadline) {
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
  std::atomic<std::int64_t> count_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;
  std::condition_variable zero_;
};

}  // namespace boc
