// Counts behaviours in flight and lets threads wait, without polling, for
// the count to reach zero (quiescence).
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

  void add() noexcept {
    // Relaxed: a behaviour is added by the thread that schedules it, always
    // before any removal it could cause (a nested behaviour is added while
    // its parent still counts), and one atomic's modification order follows
    // each thread's program order, so the count cannot touch zero early.
    in_flight_.fetch_add(1, std::memory_order_relaxed);
  }

  void remove() noexcept {
    // seq_cst on both sides of the waiter handshake (this decrement and the
    // load of waiters_, against wait_until's increment of waiters_ and load
    // of in_flight_): at least one side sees the other, so a waiter is either
    // notified or sees zero itself. The mutex is taken only when someone
    // waits, keeping the common path to one atomic operation.
    if (in_flight_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        waiters_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> guard(mutex_);
      zero_.notify_all();
    }
  }

  std::int64_t in_flight() const noexcept { return in_flight_.load(std::memory_order_acquire); }

  // True once nothing is in flight; false if `deadline` passed first.
  bool wait_until(Clock::time_point deadline) {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    bool done;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done = zero_.wait_until(lock, deadline,
                              [&] { return in_flight_.load(std::memory_order_seq_cst) == 0; });
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return done;
  }

 private:
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;
  std::condition_variable zero_;
};

}  // namespace boc
