// Statistics counters: Counter has one writer (its worker) and any number
// of readers; SharedCounter takes writes from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace boc {

class Counter {
 public:
  // Only the owning thread writes, so a load and a store suffice (no locked
  // read-modify-write). Relaxed: readers want a recent value, not an ordering;
  // at quiescence the terminator's synchronisation makes the values exact.
  void add(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }
  // Where the value lives, for readers that keep its address (a trace).
  const std::atomic<std::uint64_t>& cell() const noexcept { return value_; }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// For a count that threads other than its worker add to (an outside thread
// dispatching to a worker, say): an atomic increment, so none is lost.
class SharedCounter {
 public:
  // Relaxed: a statistic, as above.
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }
  const std::atomic<std::uint64_t>& cell() const noexcept { return value_; }

 private:
  std::atomic<std::uint64_t> value_{0};
};

}  // namespace boc
