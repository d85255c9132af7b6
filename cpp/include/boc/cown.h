// A cown (concurrent owner): a resource that at most one behaviour holds at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "boc/recycler.h"

namespace boc {

struct Slot;

class Cown {
 public:
  Cown() noexcept : id_(new_id()) {}
  Cown(const Cown&) = delete;
  Cown& operator=(const Cown&) = delete;

  // Cowns made fresh per behaviour (fan-out children) are, like behaviours,
  // made on one worker and freed on another: see recycler.h.
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
  void release() noexcept {
    // Release so that every use through this reference happens before the
    // delete; acquire (on the last one) so the deleting thread sees them all.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  friend class Runtime;
  ~Cown() = default;

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

// An owning, intrusive reference to a cown.
class CownRef {
 public:
  CownRef() noexcept = default;
  static CownRef make() { return CownRef(new Cown()); }
  explicit CownRef(Cown* adopt) noexcept : cown_(adopt) {}
  CownRef(const CownRef& o) noexcept : cown_(o.cown_) {
    if (cown_) cown_->retain();
  }
  CownRef(CownRef&& o) noexcept : cown_(std::exchange(o.cown_, nullptr)) {}
  CownRef& operator=(CownRef o) noexcept {
    std::swap(cown_, o.cown_);
    return *this;
  }
  ~CownRef() {
    if (cown_) cown_->release();
  }
  Cown* get() const noexcept { return cown_; }
  Cown* operator->() const noexcept { return cown_; }
  explicit operator bool() const noexcept { return cown_ != nullptr; }

 private:
  Cown* cown_ = nullptr;
};

}  // namespace boc
