// A recycling allocator for the core's hot objects: behaviours and cowns.
//
// Why not plain operator new: in BoC a behaviour is allocated by the thread
// that schedules it and freed by the worker that runs it, and in fan-out
// shapes (a producer scheduling children on fresh cowns) that is a steady
// one-directional flow from one worker to another. A per-thread cache such
// as glibc's tcache then drains on the producer and overflows on the
// consumer, and both fall back to the producer's arena under its lock, per
// object. Here blocks move between threads a magazine (64 blocks) at a time
// through a shared depot: one lock per 64 allocations or frees, not per
// object, and the common case touches only the calling thread's cache.
//
// Layout:
//   - size classes: multiples of `granule` (64) bytes up to `largest` (512);
//     bigger requests (and 0) go straight to ::operator new / delete;
//   - per thread and class, a loaded magazine (allocations pop from it and
//     frees push onto it) and a spare that is empty or full: a thread keeps
//     at most `local_magazines` * `magazine_blocks` = 128 blocks per class.
//     These fast paths are inline here: a thread-local list pop or push;
//   - per class, a depot of full magazines under one mutex (plus one partial
//     magazine gathering what exiting threads leave), keeping at most
//     `depot_magazines` (64, so 4096 blocks); a full magazine beyond that
//     goes back to ::operator delete.
// A producer that runs dry takes a full magazine from the depot; a consumer
// with two full ones gives one to the depot.
//
// Lifetimes: a thread's first slow path arms a thread-local whose destructor
// hands its magazines to the depot when the thread exits; frees after that
// (from later thread-local destructors) bypass the cache. The depot frees
// all it holds at static destruction (after the main thread's thread-locals
// have been handed back), and frees made after that go straight to
// ::operator delete: nothing leaks, for LeakSanitizer or otherwise.
//
// Blocks come from ::operator new, or from mimalloc in a build configured
// with -DBOC_ALLOCATOR=mimalloc; either way they are aligned for any type
// that is not over-aligned (__STDCPP_DEFAULT_NEW_ALIGNMENT__); over-aligned
// types must not use this allocator.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace boc::recycler {

inline constexpr std::size_t granule = 64;
inline constexpr std::size_t largest = 512;
inline constexpr std::size_t class_count = largest / granule;
inline constexpr std::size_t magazine_blocks = 64;
inline constexpr std::size_t local_magazines = 2;
inline constexpr std::size_t depot_magazines = 64;

namespace detail {

// A free block. The first word links the blocks of a magazine; in the depot
// the second word of a magazine's first block links the magazines.
struct Free {
  Free* next;
  Free* next_magazine;
};
static_assert(sizeof(Free) <= granule);

// A list of free blocks of one class, with its length.
struct Magazine {
  Free* head = nullptr;
  std::size_t count = 0;

  void push(void* block) noexcept {
    Free* b = static_cast<Free*>(block);
    b->next = head;
    head = b;
    ++count;
  }
  Free* pop() noexcept {
    Free* b = head;
    head = b->next;
    --count;
    return b;
  }
};

// `bytes - 1 >= largest` catches both 0 and big sizes in one comparison.
constexpr bool too_big(std::size_t bytes) noexcept { return bytes - 1 >= largest; }
constexpr std::size_t class_of(std::size_t bytes) noexcept { return (bytes - 1) / granule; }
constexpr std::size_t class_bytes(std::size_t c) noexcept { return (c + 1) * granule; }

// A thread's magazines. Trivially destructible and constant-initialised, so
// the inline fast paths reach it with no thread-local initialisation guard;
// a second thread-local object, set up on the thread's first slow path,
// hands it back when the thread exits (recycler.cpp).
struct ThreadCache {
  // How many blocks `loaded` may hold before a free takes the slow path: 0
  // until the hand-back is armed and again once it has run, so that a
  // thread never caches a block with no one to hand it back.
  std::size_t limit = 0;
  bool retired = false;  // the thread is exiting: bypass the cache
  Magazine loaded[class_count] = {};
  Magazine spare[class_count] = {};  // empty or full
};

extern constinit thread_local ThreadCache thread_cache;

void* allocate_slow(std::size_t c);
void deallocate_slow(void* block, std::size_t c) noexcept;

}  // namespace detail

// Under AddressSanitizer every block goes straight to ::operator new and
// delete, so that a use after free of a behaviour or cown is still caught.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool bypass = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool bypass = true;
#else
inline constexpr bool bypass = false;
#endif
#else
inline constexpr bool bypass = false;
#endif

// A block of at least `bytes` bytes. Any thread may free it.
inline void* allocate(std::size_t bytes) {
  if (bypass || detail::too_big(bytes)) return ::operator new(bytes);
  const std::size_t c = detail::class_of(bytes);
  detail::Magazine& loaded = detail::thread_cache.loaded[c];
  if (loaded.count != 0) return loaded.pop();
  return detail::allocate_slow(c);
}

// Frees a block from allocate(bytes), with the same `bytes`.
inline void deallocate(void* block, std::size_t bytes) noexcept {
  if (bypass || detail::too_big(bytes)) {
    ::operator delete(block, bytes);
    return;
  }
  const std::size_t c = detail::class_of(bytes);
  detail::ThreadCache& cache = detail::thread_cache;
  detail::Magazine& loaded = cache.loaded[c];
  if (loaded.count < cache.limit) {
    loaded.push(block);
    return;
  }
  detail::deallocate_slow(block, c);
}

// A standard allocator over the recycler, for containers that one thread
// fills and another frees: a behaviour's side arrays (its arguments, its
// captures) made by the scheduling thread and dropped by the worker.
template <class T>
struct Allocator {
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "over-aligned types must not use the recycler");
  using value_type = T;

  Allocator() noexcept = default;
  template <class U>
  Allocator(const Allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(recycler::allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { recycler::deallocate(p, n * sizeof(T)); }

  template <class U>
  bool operator==(const Allocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using Vector = std::vector<T, Allocator<T>>;

// Gives every block the depot holds back to ::operator delete (the threads'
// caches keep theirs): memory back after a burst, or a clean depot for a test.
void trim() noexcept;

// Introspection, for tests: blocks of the class serving `bytes` held by the
// depot, and by the calling thread's cache (0 for sizes above `largest`).
std::size_t depot_blocks(std::size_t bytes) noexcept;
std::size_t cached_blocks(std::size_t bytes) noexcept;

}  // namespace boc::recycler
