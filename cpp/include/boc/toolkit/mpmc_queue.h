// An intrusive multi-producer multi-consumer queue of QueueNodes, after the
// queue in verona-rt (src/rt/sched/mpmcq.h).
//
// Shape. The queue is a singly linked list through QueueNode::queue_next.
// `front_` points at the first node; `back_` points at the link field that
// the next enqueue must fill: the last node's queue_next, or `front_` itself
// when the queue is empty. So "empty" is `back_ == &front_`, and appending
// to an empty queue is the same code as appending to a full one.
//
// Producers (any thread, lock-free, never retry):
//   enqueue_segment(first..last):
//       last.next = null
//       prev = exchange(back, &last.next)     -- claim the end of the queue
//       *prev = first                          -- then link in
//   Between the two steps the queue is briefly cut: consumers see a null
//   link and treat the part behind it as "not there yet".
//
// Consumers (any thread) take turns on the front: acquire_front() swaps the
// front for null, which makes the queue look empty to every other consumer
// until the holder puts a front back. That is the whole mutual exclusion
// among consumers; producers are never blocked by it.
//   dequeue:      take the front node; if it was the last one, close the
//                 queue with CAS(back: &node.next -> &front). A failed CAS
//                 means a producer is half-way through appending behind it:
//                 put the front back and report a lost race.
//   dequeue_all:  take the front and swap back for &front: the caller owns
//                 everything between (a Segment), possibly with links still
//                 being filled in by producers that got in before the swap.
//   enqueue_front: take the front, put the new node before it.
//
// Any operation may fail spuriously (return nothing while the queue holds
// nodes) when it meets a concurrent one; `lost_race` tells the caller so it
// can retry or look elsewhere. No node is ever lost or handed out twice.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>

#include "boc/queue_node.h"

namespace boc {

class MpmcQueue {
 public:
  using Link = std::atomic<QueueNode*>;

  // A chain of nodes detached from (or about to join) a queue: `start` is the
  // first node, `end` the link field of the last one. The chain may contain
  // links a producer has not filled in yet; they are filled in wherever the
  // chain then lives, so a segment can be moved whole at any time.
  struct Segment {
    QueueNode* start = nullptr;
    Link* end = nullptr;

    // The segment of one node.
    static Segment of(QueueNode* n) noexcept { return {n, &n->queue_next}; }

    bool empty() const noexcept { return start == nullptr; }
    // Exactly one node, with no producer able to link behind it.
    bool single() const noexcept { return start != nullptr && end == &start->queue_next; }

    // Detaches the first node if its link to the second is complete; null
    // when the segment is empty, holds a single node, or the first link is
    // still being written (then the rest must be moved as a whole).
    QueueNode* take_one() noexcept {
      QueueNode* first = start;
      // The last node's link is not part of the segment (it may be stale).
      if (first == nullptr || end == &first->queue_next) return nullptr;
      // Acquire: pairs with the producer's release link store, so the
      // second node's contents are visible before we hand it on.
      QueueNode* second = first->queue_next.load(std::memory_order_acquire);
      if (second == nullptr) return nullptr;
      start = second;
      return first;
    }
  };

  MpmcQueue() noexcept = default;
  MpmcQueue(const MpmcQueue&) = delete;
  MpmcQueue& operator=(const MpmcQueue&) = delete;
  // The queue owns no nodes: whatever is left in it is simply forgotten.
  ~MpmcQueue() = default;

  void enqueue(QueueNode* n) noexcept { enqueue_segment(Segment::of(n)); }

  // Appends a pre-linked chain (its internal links set, or being set by
  // producers that already own them). Wait-free: one exchange, one store.
  void enqueue_segment(Segment s) noexcept {
    assert(!s.empty());
    // Relaxed: the release exchange below publishes this reset, and the
    // next producer acquires it before it writes into this field.
    s.end->store(nullptr, std::memory_order_relaxed);
    // Release: a producer or consumer that later reads back_ (and then this
    // field) sees the reset above and the segment's contents. Acquire:
    // `prev` is the previous producer's end field; its reset to null must
    // happen before our store into it, or that late reset could wipe out
    // our link. seq_cst rather than the reference's acq_rel: the exchange
    // doubles as the publisher's write in the scheduler's parking handshake
    // (parking.h), against a sleeper's seq_cst is_empty(). On x86 and ARMv8
    // it is the same instruction.
    Link* prev = back_.exchange(s.end, std::memory_order_seq_cst);
    // Release: a consumer that loads this link (acquire) sees the nodes.
    prev->store(s.start, std::memory_order_release);
  }

  // Puts `n` before every node in the queue. Falls back to the back when
  // the front is not available (empty, or held by a consumer right now).
  void enqueue_front(QueueNode* n) noexcept {
    QueueNode* old_front = acquire_front();
    if (old_front == nullptr) {
      enqueue(n);
      return;
    }
    // Relaxed: published by the release store of the front below.
    n->queue_next.store(old_front, std::memory_order_relaxed);
    // Release: hands the front (and n's link) to the next consumer.
    front_.store(n, std::memory_order_release);
  }

  // Takes the front node for exclusive use, leaving a null front that makes
  // every other consumer back off. Null if the queue is empty or another
  // consumer holds the front. The caller must either put a front back
  // (restore_front) or take the queue's whole contents.
  QueueNode* acquire_front() noexcept {
    // Relaxed pre-check: avoids writing the line when there is nothing.
    if (front_.load(std::memory_order_relaxed) == nullptr) return nullptr;
    // Acquire: pairs with the release that last set the front (a producer's
    // link into an empty queue, or a consumer putting it back), so the
    // front node and the links after it are visible.
    return front_.exchange(nullptr, std::memory_order_acquire);
  }

  // Gives back the front taken by acquire_front(), unchanged or with nodes
  // put before it (linked to it by the caller).
  void restore_front(QueueNode* n) noexcept {
    assert(n != nullptr);
    // Release: the next consumer to acquire the front sees what we linked.
    front_.store(n, std::memory_order_release);
  }

  // One node from the front, or null: empty, or (with *lost_race set) a
  // concurrent consumer or producer got in the way.
  QueueNode* dequeue(bool* lost_race = nullptr) noexcept {
    QueueNode* old_front = acquire_front();
    if (old_front == nullptr) {
      note_lost_race(lost_race);
      return nullptr;
    }
    // Acquire: pairs with the producer's release link store.
    QueueNode* new_front = old_front->queue_next.load(std::memory_order_acquire);
    if (new_front != nullptr) {
      // Release: the next consumer to acquire the front sees new_front's
      // contents through us.
      front_.store(new_front, std::memory_order_release);
      return old_front;
    }
    // Last node (as far as we can see): try to close the queue behind it.
    Link* expected = &old_front->queue_next;
    // acq_rel on success. Release: the producer that next exchanges back_
    // and finds &front_ must order its store of the front after our null
    // front (from acquire_front), or its node would be wiped out. Acquire:
    // we read the back that old_front's producer released, so its writes to
    // old_front (the null link) come before whatever the caller does with
    // the node. Relaxed on failure: we only learn that someone appended.
    if (back_.compare_exchange_strong(expected, &front_, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
      return old_front;
    }
    // A producer has claimed the end but not yet linked behind old_front.
    // Release: returns the front with everything we saw.
    front_.store(old_front, std::memory_order_release);
    if (lost_race != nullptr) *lost_race = true;
    return nullptr;
  }

  // Everything in the queue as one segment (empty if there is nothing, or,
  // with *lost_race set, another consumer holds the front).
  Segment dequeue_all(bool* lost_race = nullptr) noexcept {
    QueueNode* old_front = acquire_front();
    if (old_front == nullptr) {
      note_lost_race(lost_race);
      return {};
    }
    // acq_rel. Acquire: every producer before us released its segment with
    // its exchange; we take them all. Release: a producer that next finds
    // &front_ must see the null front left by acquire_front.
    Link* old_back = back_.exchange(&front_, std::memory_order_acq_rel);
    return {old_front, old_back};
  }

  // A snapshot: may be stale by the time the caller acts on it. seq_cst
  // (the reference reads it relaxed): a worker about to sleep reads every
  // queue through here, against the seq_cst exchange of enqueue_segment
  // (see parking.h). As cheap as an acquire load on x86 and ARMv8.
  bool is_empty() const noexcept { return back_.load(std::memory_order_seq_cst) == &front_; }

 private:
  // The front looked empty: if the back says otherwise, a consumer holds
  // the front or a producer is linking into an empty queue.
  void note_lost_race(bool* lost_race) const noexcept {
    if (lost_race != nullptr && !is_empty()) *lost_race = true;
  }

  // Written by producers; also read by consumers closing or draining.
  std::atomic<Link*> back_{&front_};
  // Written by consumers, and by a producer appending to an empty queue.
  Link front_{nullptr};
};

}  // namespace boc
