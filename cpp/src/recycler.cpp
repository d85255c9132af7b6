#include "boc/recycler.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <pthread.h>
#include <utility>

#if defined(BOC_WITH_MIMALLOC)
#include <mimalloc.h>
#endif

namespace boc::recycler {

constinit thread_local detail::ThreadCache detail::thread_cache;

namespace {

using detail::class_bytes;
using detail::class_of;
using detail::Free;
using detail::Magazine;
using detail::too_big;

// Where blocks come from when no magazine has one, and go when the depot
// keeps enough: the system's operator new, or mimalloc where the build
// chose it (BOC_ALLOCATOR). A backlog of behaviours waiting on a busy cown
// grows through here, a fresh block per behaviour.
void* fresh_block(std::size_t bytes) {
#if defined(BOC_WITH_MIMALLOC)
  if (void* p = mi_malloc(bytes)) return p;
  throw std::bad_alloc();
#else
  return ::operator new(bytes);
#endif
}

void free_block(void* block, std::size_t bytes) noexcept {
#if defined(BOC_WITH_MIMALLOC)
  mi_free_size(block, bytes);
#else
  ::operator delete(block, bytes);
#endif
}

void free_all(Magazine m, std::size_t c) noexcept {
  while (m.count != 0) free_block(m.pop(), class_bytes(c));
}

// Set once the depot has been destroyed (static destruction): frees made
// after that, from static destructors, go straight back (free_block). A
// separate, trivially destructible object, so it stays readable then.
constinit std::atomic<bool> depot_dead{false};

bool dead() noexcept { return depot_dead.load(std::memory_order_relaxed); }

// Full magazines shared by all threads, per class; blocks move between
// threads only through here.
class Depot {
 public:
  constexpr Depot() noexcept = default;
  Depot(const Depot&) = delete;
  Depot& operator=(const Depot&) = delete;

  // Frees everything at static destruction; later frees bypass the depot.
  ~Depot() {
    std::lock_guard<std::mutex> guard(mutex_);
    depot_dead.store(true, std::memory_order_relaxed);
    free_everything();
  }

  void trim() noexcept {
    if (dead()) return;
    std::lock_guard<std::mutex> guard(mutex_);
    free_everything();
  }

  // A full magazine, else the partial one, else an empty one.
  Magazine take(std::size_t c) noexcept {
    if (dead()) return {};
    std::lock_guard<std::mutex> guard(mutex_);
    if (full_count_[c] != 0) return take_full(c);
    return std::exchange(partial_[c], {});
  }

  // Takes a full magazine; frees it if the depot already keeps its bound.
  void give_full(Magazine m, std::size_t c) noexcept {
    if (!dead()) {
      std::lock_guard<std::mutex> guard(mutex_);
      if (full_count_[c] < depot_magazines) {
        put_full(m, c);
        return;
      }
    }
    free_all(m, c);  // outside the lock
  }

  // Takes what an exiting thread had: full magazines as they are, the
  // blocks of partial ones gathered into the class's partial magazine.
  void give_any(Magazine m, std::size_t c) noexcept {
    if (m.count == 0) return;
    if (m.count == magazine_blocks) {
      give_full(m, c);
      return;
    }
    if (dead()) {
      free_all(m, c);
      return;
    }
    Magazine excess;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      while (m.count != 0) {
        partial_[c].push(m.pop());
        if (partial_[c].count == magazine_blocks) {
          Magazine full = std::exchange(partial_[c], {});
          if (full_count_[c] < depot_magazines) {
            put_full(full, c);
          } else {
            while (full.count != 0) excess.push(full.pop());
          }
        }
      }
    }
    free_all(excess, c);
  }

  // Held across fork() (see fork_handlers below).
  void lock_for_fork() noexcept {
    if (!dead()) mutex_.lock();
  }
  void unlock_after_fork() noexcept {
    if (!dead()) mutex_.unlock();
  }

  std::size_t blocks(std::size_t c) noexcept {
    if (dead()) return 0;
    std::lock_guard<std::mutex> guard(mutex_);
    return full_count_[c] * magazine_blocks + partial_[c].count;
  }

 private:
  // Callers hold mutex_.
  void free_everything() noexcept {
    for (std::size_t c = 0; c < class_count; ++c) {
      while (full_count_[c] != 0) free_all(take_full(c), c);
      free_all(std::exchange(partial_[c], {}), c);
    }
  }
  void put_full(Magazine m, std::size_t c) noexcept {
    m.head->next_magazine = full_[c];
    full_[c] = m.head;
    ++full_count_[c];
  }
  Magazine take_full(std::size_t c) noexcept {
    Free* head = full_[c];
    full_[c] = head->next_magazine;
    --full_count_[c];
    return {head, magazine_blocks};
  }

  std::mutex mutex_;
  Free* full_[class_count] = {};
  std::size_t full_count_[class_count] = {};
  Magazine partial_[class_count] = {};
};

constinit Depot depot;

using detail::thread_cache;

// fork() copies only the calling thread: had another thread held the depot's
// lock at that moment, the child would find it held for ever. Taking it
// around the fork leaves it free and the depot consistent in both processes.
[[maybe_unused]] const int fork_handlers =
    pthread_atfork([] { depot.lock_for_fork(); }, [] { depot.unlock_after_fork(); },
                   [] { depot.unlock_after_fork(); });

// Hands a thread's magazines to the depot when the thread exits. Its first
// use on a thread (arm_cache) constructs it, which registers the destructor
// and opens the thread's cache to frees.
struct Reaper {
  Reaper() noexcept { thread_cache.limit = magazine_blocks; }
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;
  ~Reaper() {
    thread_cache.limit = 0;
    thread_cache.retired = true;
    for (std::size_t c = 0; c < class_count; ++c) {
      depot.give_any(std::exchange(thread_cache.loaded[c], {}), c);
      depot.give_any(std::exchange(thread_cache.spare[c], {}), c);
    }
  }
  void arm() noexcept {}
};

// Dynamically initialised on its first use in a thread, which registers its
// destructor to run at that thread's exit.
thread_local Reaper reaper;

// Makes sure the calling thread's cache will be handed back; false if the
// thread is exiting and must not cache anything.
bool arm_cache() noexcept {
  if (thread_cache.retired) return false;
  if (thread_cache.limit == 0) reaper.arm();
  return true;
}

}  // namespace

void* detail::allocate_slow(std::size_t c) {
  if (arm_cache()) {
    Magazine& loaded = thread_cache.loaded[c];
    Magazine& spare = thread_cache.spare[c];
    if (spare.count != 0) {
      std::swap(loaded, spare);
      return loaded.pop();
    }
    loaded = depot.take(c);
    if (loaded.count != 0) return loaded.pop();
  }
  return fresh_block(class_bytes(c));
}

void detail::deallocate_slow(void* block, std::size_t c) noexcept {
  Free* const b = static_cast<Free*>(block);
  if (!arm_cache()) {
    free_block(b, class_bytes(c));
    return;
  }
  Magazine& loaded = thread_cache.loaded[c];
  Magazine& spare = thread_cache.spare[c];
  if (loaded.count >= magazine_blocks) {
    if (spare.count != 0) depot.give_full(spare, c);
    spare = std::exchange(loaded, {});
  }
  loaded.push(b);
}

void trim() noexcept { depot.trim(); }

std::size_t depot_blocks(std::size_t bytes) noexcept {
  return too_big(bytes) ? 0 : depot.blocks(class_of(bytes));
}

std::size_t cached_blocks(std::size_t bytes) noexcept {
  if (too_big(bytes)) return 0;
  const std::size_t c = class_of(bytes);
  return thread_cache.loaded[c].count + thread_cache.spare[c].count;
}

}  // namespace boc::recycler
