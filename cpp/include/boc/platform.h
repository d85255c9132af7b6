// The only place where the core touches compiler- or CPU-specific features.
#pragma once

#include <cstddef>
#include <thread>

#if defined(_MSC_VER)
#include <intrin.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <pthread.h>
#include <sanitizer/asan_interface.h>
#endif

// Leaves a function out of AddressSanitizer's instrumentation.
#if defined(__GNUC__) || defined(__clang__)
#define BOC_NO_SANITIZE_ADDRESS __attribute__((no_sanitize_address))
#else
#define BOC_NO_SANITIZE_ADDRESS
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
// been preempted, so after a while the waiter yields its core to it.
template <typename Predicate>
void spin_until(Predicate done) noexcept {
  for (unsigned spins = 0; !done(); ++spins) {
    if (spins < 1024) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace boc::platform
