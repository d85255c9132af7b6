#include "outside_use.h"

#include <Python.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace boc::python {

namespace {

std::mutex turn;  // one OutsideUse at a time
// An OutsideUse in progress, and OutsideSchedulings in progress. Each side
// announces itself, then looks at the other (seq_cst, as in Dekker's
// algorithm): of a use and a scheduling that start at once, at least one
// sees the other and backs off, so they never overlap.
std::atomic<int> using_{0};
std::atomic<int> scheduling_{0};
// How deep the calling thread is in OutsideUses: a signal handler may use a
// value inside the main thread's own use (a nested use of a value being
// moved gets an error from the value itself).
thread_local int depth = 0;

// Waits, with the interpreter lock let go, until `counter` reads zero.
void wait_for_zero(const std::atomic<int>& counter) {
  Py_BEGIN_ALLOW_THREADS
  while (counter.load(std::memory_order_acquire) != 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
  Py_END_ALLOW_THREADS
}

}  // namespace

OutsideUse::OutsideUse() {
  if (depth++ > 0) return;
  if (!turn.try_lock()) {
    Py_BEGIN_ALLOW_THREADS
    turn.lock();
    Py_END_ALLOW_THREADS
  }
  for (;;) {
    using_.store(1, std::memory_order_seq_cst);
    if (scheduling_.load(std::memory_order_seq_cst) == 0) return;
    using_.store(0, std::memory_order_seq_cst);
    wait_for_zero(scheduling_);
  }
}

OutsideUse::~OutsideUse() {
  if (--depth > 0) return;
  // Release: what the use did to values happens before a behaviour that
  // a waiting scheduler then schedules.
  using_.store(0, std::memory_order_release);
  turn.unlock();
}

OutsideScheduling::OutsideScheduling() {
  for (;;) {
    scheduling_.fetch_add(1, std::memory_order_seq_cst);
    if (using_.load(std::memory_order_seq_cst) == 0) return;
    scheduling_.fetch_sub(1, std::memory_order_seq_cst);
    wait_for_zero(using_);
  }
}

OutsideScheduling::~OutsideScheduling() { scheduling_.fetch_sub(1, std::memory_order_release); }

}  // namespace boc::python
