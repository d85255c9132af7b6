// A queue of behaviours shared by any number of threads under one mutex:
// first in, first out (LockedFifo) or last in, first out (LockedLifo).
//
// The simplest shared queue, for policies whose point is the order, not
// the queue. It takes part in the parking lot's handshake (parking_lot.h)
// through its mutex instead of atomics of its own: push() reads whether
// anyone sleeps while it still holds the lock, and a worker announces
// itself before it takes the lock to look. Either the worker's look takes
// the lock after the push (and sees the behaviour), or its announcement
// came before its look, which came before the push's critical section
// (and the push sees the sleeper).
#pragma once

#include <atomic>
#include <mutex>

#include "boc/behaviour.h"
#include "boc/toolkit/parking_lot.h"

namespace boc {

enum class QueueOrder { fifo, lifo };

template <QueueOrder order>
class LockedQueue {
 public:
  // Any thread. True if a worker of `lot` may be asleep: then wake one
  // (after this returns, outside the queue's lock).
  bool push(Behaviour* b, const ParkingLot& lot) noexcept {
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
    return lot.anyone_asleep();
  }

  // Any thread: the front (fifo: the oldest; lifo: the newest), or null.
  Behaviour* pop() noexcept {
    std::lock_guard<std::mutex> guard(mutex_);
    QueueNode* node = head_;
    if (node == nullptr) return nullptr;
    head_ = node->queue_next.load(std::memory_order_relaxed);
    if (head_ == nullptr) tail_ = nullptr;
    return static_cast<Behaviour*>(node);
  }

 private:
  std::mutex mutex_;
  QueueNode* head_ = nullptr;  // guarded by mutex_
  QueueNode* tail_ = nullptr;  // guarded by mutex_; the fifo's end
};

using LockedFifo = LockedQueue<QueueOrder::fifo>;
using LockedLifo = LockedQueue<QueueOrder::lifo>;

}  // namespace boc
