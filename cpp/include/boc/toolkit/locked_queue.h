// A queue of behaviours shared by any number of threads under one mutex:
// first in, first out (LockedFifo) or last in, first out (LockedLifo).
//
// The simplest shared queue, for policies whose point is the order, not
// the queue. It takes part in the parking lot's handshake: push() counts
// the node with a seq_cst read-modify-write of `size_` and every look at
// the queue starts with a seq_cst read of it (see parking_lot.h).
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>

#include "boc/behaviour.h"
#include "boc/platform.h"

namespace boc {

enum class QueueOrder { fifo, lifo };

template <QueueOrder order>
class LockedQueue {
 public:
  // Any thread.
  void push(Behaviour* b) noexcept {
    std::lock_guard<std::mutex> guard(mutex_);
    // The mutex orders every access to the links; relaxed is enough.
    if (order == QueueOrder::fifo && tail_ != nullptr) {
      b->queue_next.store(nullptr, std::memory_order_relaxed);
      tail_->queue_next.store(b, std::memory_order_relaxed);
      tail_ = b;
    } else {  // at the front: a lifo's top, or an empty fifo
      b->queue_next.store(head_, std::memory_order_relaxed);
      head_ = b;
      if (tail_ == nullptr) tail_ = b;
    }
    // seq_cst: the publish of the parking handshake.
    size_.fetch_add(1, std::memory_order_seq_cst);
  }

  // Any thread: the front (fifo: the oldest; lifo: the newest), or null.
  Behaviour* pop() noexcept {
    // seq_cst: the search's read of the parking handshake. An empty queue
    // costs no lock.
    if (size_.load(std::memory_order_seq_cst) == 0) return nullptr;
    std::lock_guard<std::mutex> guard(mutex_);
    QueueNode* node = head_;
    if (node == nullptr) return nullptr;  // taken since we looked
    head_ = node->queue_next.load(std::memory_order_relaxed);
    if (head_ == nullptr) tail_ = nullptr;
    // Relaxed: under the mutex, after the push that counted the node.
    size_.fetch_sub(1, std::memory_order_relaxed);
    return static_cast<Behaviour*>(node);
  }

  // Any thread; a snapshot.
  bool empty() const noexcept { return size_.load(std::memory_order_seq_cst) == 0; }

 private:
  std::mutex mutex_;
  QueueNode* head_ = nullptr;  // guarded by mutex_
  QueueNode* tail_ = nullptr;  // guarded by mutex_; the fifo's end
  alignas(platform::cache_line) std::atomic<std::size_t> size_{0};
};

using LockedFifo = LockedQueue<QueueOrder::fifo>;
using LockedLifo = LockedQueue<QueueOrder::lifo>;

}  // namespace boc
