// A worker's queue in the work-stealing scheduler, after verona-rt's
// WorkStealingQueue (src/rt/sched/workstealingqueue.h): N independent MPMC
// sub-queues behind three rotating cursors.
//
//   enqueue:        append to the sub-queue after the enqueue cursor
//   dequeue:        try each sub-queue once, starting after the dequeue cursor
//   enqueue_front:  put a node where the next dequeue looks first
//   steal:          take the whole of one of a victim's sub-queues (chosen by
//                   the steal cursor), keep one node, spread the rest over
//                   our own sub-queues
//
// Several sub-queues instead of one let the owner, producers and thieves
// work on different cache lines most of the time, and make a steal take a
// part of the victim's work rather than all of it. Spreading a stolen batch
// over our own sub-queues means the next thief, in turn, takes only a part.
//
// Who may call what: enqueue and enqueue_segment from any thread; dequeue,
// enqueue_front, enqueue_spread and steal only from the owner (steal is
// called on the thief's own queue, with the victim as argument), since they
// use the owner's private cursors.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <memory>

#include "boc/platform.h"
#include "boc/queue_node.h"
#include "boc/toolkit/mpmc_queue.h"

namespace boc {

class WorkStealingQueue {
 public:
  using Segment = MpmcQueue::Segment;

  // What a steal attempt did, for the thief's statistics.
  struct StealResult {
    QueueNode* node = nullptr;  // the node kept for the thief, if any
    bool attempted = false;     // a victim sub-queue looked non-empty and we went for it
    bool lost_race = false;     // another consumer (or a producer) got in the way
    std::size_t moved = 0;      // other nodes taken and re-enqueued here
  };

  explicit WorkStealingQueue(std::size_t sub_queues)
      : count_(sub_queues), queues_(std::make_unique<SubQueue[]>(sub_queues)) {
    assert(sub_queues > 0);
  }
  WorkStealingQueue(const WorkStealingQueue&) = delete;
  WorkStealingQueue& operator=(const WorkStealingQueue&) = delete;

  std::size_t sub_queue_count() const noexcept { return count_; }
  MpmcQueue& sub_queue(std::size_t i) noexcept { return queues_[i].queue; }
  const MpmcQueue& sub_queue(std::size_t i) const noexcept { return queues_[i].queue; }

  // The sub-queue the next enqueue goes to, the one the next dequeue tries
  // first, and the one of a victim the next steal tries first.
  std::size_t next_enqueue_index() const noexcept {
    // Relaxed: a snapshot of a cursor that guards nothing (see below).
    return wrap(enqueue_cursor_.load(std::memory_order_relaxed) + 1);
  }
  std::size_t next_dequeue_index() const noexcept { return wrap(dequeue_cursor_ + 1); }
  std::size_t next_steal_index() const noexcept { return steal_cursor_; }

  void enqueue(QueueNode* n) noexcept { enqueue_segment(Segment::of(n)); }

  void enqueue_segment(Segment s) noexcept { queues_[advance_enqueue_cursor()].queue.enqueue_segment(s); }

  // Owner only: `n` is what the next dequeue returns (unless the front of
  // that sub-queue is busy, when it joins its back instead). It goes to the
  // sub-queue last dequeued from, and the cursor steps back one, so the
  // dequeue after next carries on where the rotation was.
  void enqueue_front(QueueNode* n) noexcept {
    queues_[dequeue_cursor_].queue.enqueue_front(n);
    dequeue_cursor_ = wrap(dequeue_cursor_ + count_ - 1);
  }

  // Owner only: one node per sub-queue in turn, then whatever cannot be
  // split (the last node, or a part still being linked) as one segment.
  void enqueue_spread(Segment s) noexcept {
    while (QueueNode* n = s.take_one()) enqueue(n);
    if (!s.empty()) enqueue_segment(s);
  }

  // Owner only: a node from any sub-queue, or null. `lost_races` grows by
  // the number of sub-queues that held nodes we could not take because of a
  // concurrent operation (a thief on the front, a producer mid-append).
  QueueNode* dequeue(std::size_t& lost_races) noexcept {
    for (std::size_t tries = 0; tries < count_; ++tries) {
      dequeue_cursor_ = wrap(dequeue_cursor_ + 1);
      bool lost = false;
      if (QueueNode* n = queues_[dequeue_cursor_].queue.dequeue(&lost)) return n;
      if (lost) ++lost_races;
    }
    return nullptr;
  }

  // Owner (the thief) only. Takes the entire contents of the first
  // non-empty sub-queue of `victim`, looking from the steal cursor on; the
  // cursor then moves one on, so successive steals spread over the victim's
  // sub-queues. Every node taken goes through `sieve(node)`: it returns true
  // for work, false for a node it has disposed of itself (the scheduler's
  // fairness tokens). The first work node is returned; the others are
  // spread over this queue. A part of the segment whose links are still
  // being written is moved here whole, unsieved.
  template <typename Sieve>
  StealResult steal(WorkStealingQueue& victim, Sieve&& sieve) noexcept {
    StealResult r;
    const std::size_t first = steal_cursor_;
    steal_cursor_ = (steal_cursor_ + 1) % victim.count_;  // victims may differ in N
    Segment s;
    for (std::size_t k = 0; k < victim.count_; ++k) {
      MpmcQueue& q = victim.queues_[(first + k) % victim.count_].queue;
      if (q.is_empty()) continue;
      r.attempted = true;
      s = q.dequeue_all(&r.lost_race);
      if (!s.empty()) break;
    }
    if (s.empty()) return r;

    auto take = [&](QueueNode* n) {
      if (!sieve(n)) return;
      if (r.node == nullptr) {
        r.node = n;
      } else {
        enqueue(n);
        ++r.moved;
      }
    };
    while (QueueNode* n = s.take_one()) take(n);
    if (s.single()) {
      take(s.start);
    } else if (!s.empty()) {
      // The next link is still being written by a producer that appended
      // to the victim just before we took it: the rest moves as a block.
      enqueue_segment(s);
      ++r.moved;
    }
    return r;
  }

  // A snapshot over all sub-queues (relaxed; see MpmcQueue::is_empty).
  bool is_empty() const noexcept {
    for (std::size_t i = 0; i < count_; ++i) {
      if (!queues_[i].queue.is_empty()) return false;
    }
    return true;
  }

 private:
  struct alignas(platform::cache_line) SubQueue {
    MpmcQueue queue;
  };

  // For i < 2 * count_, which every caller passes (a cursor, always below
  // count_, plus less than count_): a compare, not a division, on the path
  // of every enqueue.
  std::size_t wrap(std::size_t i) const noexcept {
    assert(i < 2 * count_);
    return i >= count_ ? i - count_ : i;
  }

  std::size_t advance_enqueue_cursor() noexcept {
    // Relaxed load and store, not an atomic increment: the owner is nearly
    // always the only enqueuer, and when another thread enqueues at the same
    // time the worst outcome is two nodes in the same sub-queue. The cursor
    // only spreads load; it guards nothing.
    const std::size_t i = wrap(enqueue_cursor_.load(std::memory_order_relaxed) + 1);
    enqueue_cursor_.store(i, std::memory_order_relaxed);
    return i;
  }

  const std::size_t count_;
  std::unique_ptr<SubQueue[]> queues_;
  // The last sub-queue enqueued to; shared by all producers.
  alignas(platform::cache_line) std::atomic<std::size_t> enqueue_cursor_{0};
  // Owner only: the last sub-queue dequeued from, and the next victim
  // sub-queue to steal from.
  alignas(platform::cache_line) std::size_t dequeue_cursor_ = 0;
  std::size_t steal_cursor_ = 0;
};

}  // namespace boc
