// The only place where the core touches compiler- or CPU-specific features.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>

#if defined(_MSC_VER)
#include <intrin.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

// Inlines a function into its callers (for the few calls on the path of
// every behaviour).
#if defined(__GNUC__) || defined(__clang__)
#define BOC_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define BOC_ALWAYS_INLINE inline
#endif

// Leaves a function out of AddressSanitizer's instrumentation, which keeps
// it from being inlined too; in other builds, inlines it.
#if defined(__SANITIZE_ADDRESS__)
#define BOC_NO_SANITIZE_ADDRESS_ELSE_INLINE __attribute__((no_sanitize_address))
#else
#define BOC_NO_SANITIZE_ADDRESS_ELSE_INLINE BOC_ALWAYS_INLINE
#endif

namespace boc::platform {

// Under AddressSanitizer: clears the shadow of the calling thread's whole
// stack. A forced unwind (pthread_exit) ends frames without their epilogues,
// so their red zones stay marked, and AddressSanitizer's own code at thread
// exit would then report its writes there. Does nothing in other builds.
inline void forget_stack_poison() noexcept {
#if defined(__SANITIZE_ADDRESS__)
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* base = nullptr;
  std::size_t size = 0;
  if (pthread_attr_getstack(&attr, &base, &size) == 0) __asan_unpoison_memory_region(base, size);
  pthread_attr_destroy(&attr);
#endif
}

// Pins the calling thread to the `n`-th CPU (modulo their number) of those
// the process may run on, so that a worker keeps its caches and a steal is
// a move between two known cores. False where the platform cannot pin
// (then the thread runs wherever the OS puts it).
inline bool pin_current_thread(std::size_t n) noexcept {
#if defined(__linux__)
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return false;
  const int count = CPU_COUNT(&allowed);
  if (count == 0) return false;
  int wanted = static_cast<int>(n % static_cast<std::size_t>(count));
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed) || wanted-- != 0) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
  }
  return false;
#else
  (void)n;
  return false;
#endif
}

// The steady clock in nanoseconds: busy and idle time, and the tracing
// clock's calibration.
inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A cheap count of time for tracing, in units tick_is_nanoseconds() tells:
// the x86-64 time-stamp counter (constant-rate and synchronised across cores
// on the CPUs this runs on; under half the cost of the steady clock), else
// the steady clock's nanoseconds. Not serialising: the CPU may read it a few
// instructions early or late, which Trace::events() allows for.
inline std::uint64_t tick() noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  return __builtin_ia32_rdtsc();
#else
  return static_cast<std::uint64_t>(now_ns());
#endif
}
inline constexpr bool tick_is_nanoseconds() noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  return false;
#else
  return true;
#endif
}

// Keeps per-worker data apart so that workers do not share cache lines.
inline constexpr std::size_t cache_line = 64;

// Tells the CPU that this thread is busy-waiting (lowers power and lets a
// hyper-thread sibling run).
inline void cpu_relax() noexcept {
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_pause();
#elif defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield");
#endif
}

// Busy-waits until `done()` holds. Waits here are short (another thread is
// between two instructions of a protocol step), but that thread may have
// been preempted, so after a while the waiter yields its core to it. Most
// calls find `done()` true at once: that case is checked inline, and the
// loop kept out of line.
template <typename Predicate>
[[gnu::noinline]] void spin_until_slow(Predicate done) noexcept {
  for (unsigned spins = 0; !done(); ++spins) {
    if (spins < 1024) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

template <typename Predicate>
inline void spin_until(Predicate done) noexcept {
  if (!done()) [[unlikely]] spin_until_slow(done);
}

}  // namespace boc::platform
