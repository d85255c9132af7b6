// A cown (concurrent owner): a resource that at most one behaviour holds at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "boc/recycler.h"

namespace boc {

struct Slot;

// A cown of the core holds no data; a user of the core that keeps data with
// each cown (the Python bindings keep its value) derives from it, and the
// last release() deletes the derived object.
class Cown {
 public:
  Cown() noexcept : id_(new_id()) {}
  Cown(const Cown&) = delete;
  Cown& operator=(const Cown&) = delete;

  // Cowns made fresh per behaviour (fan-out children) are, like behaviours,
  // made on one worker and freed on another: see recycler.h. The destructor
  // is virtual, so delete passes the size of the most derived type.
  static void* operator new(std::size_t bytes) { return recycler::allocate(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { recycler::deallocate(p, bytes); }

  // Stable and unique: behaviours acquire cowns in id order, which is what
  // makes two-phase locking deadlock-free.
  std::uint64_t id() const noexcept { return id_; }

  void retain() noexcept {
    // Relaxed: a new reference is made from an existing one, which already
    // keeps the cown alive; no other memory is published by the increment.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  // A new reference unless the last one is gone (the cown is being
  // deleted): for holders of plain pointers, such as a registry that the
  // cown's destructor removes it from.
  bool try_retain() noexcept {
    std::uint32_t n = refs_.load(std::memory_order_relaxed);
    // Relaxed, as retain(): the pointer's holder keeps the memory valid
    // until the destructor has unregistered it, and nothing is published.
    while (n != 0 && !refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) {
    }
    return n != 0;
  }
  void release() noexcept {
    // Release so that every use through this reference happens before the
    // delete; acquire (on the last one) so the deleting thread sees them all.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // How many references there are now: a hint (others may change it at
  // once), exact only while the caller's references are the only ones.
  std::uint32_t references() const noexcept { return refs_.load(std::memory_order_relaxed); }

 protected:
  // Only release() deletes a cown.
  virtual ~Cown() = default;

 private:
  friend class Runtime;

  // Tail of the queue of requests (one slot per behaviour) for this cown;
  // null when no behaviour holds or waits for it.
  std::atomic<Slot*> last_{nullptr};
  std::atomic<std::uint32_t> refs_{1};
  const std::uint64_t id_;

  // Ids come in blocks per thread, so that threads creating many cowns do
  // not all increment one shared counter.
  static std::uint64_t new_id() noexcept {
    constexpr std::uint64_t block = 1024;
    thread_local std::uint64_t next = 0, end = 0;
    if (next == end) {
      // Relaxed: only uniqueness matters, which the atomic increment gives.
      next = next_block_.fetch_add(block, std::memory_order_relaxed);
      end = next + block;
    }
    return next++;
  }

  static inline std::atomic<std::uint64_t> next_block_{1};
};

// An owning, intrusive reference to a cown, or to a cown of a derived type.
template <typename T>
class Ref {
 public:
  Ref() noexcept = default;
  // A new T (its one reference is this one).
  template <typename... Args>
  static Ref make(Args&&... args) {
    return Ref(new T(std::forward<Args>(args)...));
  }
  explicit Ref(T* adopt) noexcept : cown_(adopt) {}
  Ref(const Ref& o) noexcept : cown_(o.cown_) {
    if (cown_) cown_->retain();
  }
  Ref(Ref&& o) noexcept : cown_(std::exchange(o.cown_, nullptr)) {}
  Ref& operator=(Ref o) noexcept {
    std::swap(cown_, o.cown_);
    return *this;
  }
  ~Ref() {
    if (cown_) cown_->release();
  }
  T* get() const noexcept { return cown_; }
  T* operator->() const noexcept { return cown_; }
  T& operator*() const noexcept { return *cown_; }
  explicit operator bool() const noexcept { return cown_ != nullptr; }

 private:
  T* cown_ = nullptr;
};

using CownRef = Ref<Cown>;

}  // namespace boc
