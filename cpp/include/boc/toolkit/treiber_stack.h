// A lock-free intrusive stack of QueueNodes (Treiber, 1986), with the two
// ways to take from it that avoid the stack's ABA problem: take the whole
// chain at once (any thread), or, on a stack that only its owner ever
// makes non-empty, pop one by taking the chain and putting its rest back.
//
//   push(n):        n.next = head; CAS(head: n.next -> n)      any thread
//   take_all():     exchange(head, null): the chain, newest first
//   pop_owned():    chain = exchange(head, null); head = chain.next
//   publish_owned(chain): head = chain (the stack must be empty)
//
// pop_owned never reads a node's link while the node is in the stack: a
// classic pop (read head, read head.next, CAS) can read the link of a node
// another thread has just taken and freed. Between its exchange and its
// store a thief sees the stack empty; that only delays the thief.
//
// The parking lot's handshake (parking_lot.h): push and publish_owned are
// seq_cst writes, and every look (empty(), take_all's first read) a seq_cst
// read, so a worker that announced itself and then finds every stack empty
// is woken by whoever pushes next.
#pragma once

#include <atomic>

#include "boc/queue_node.h"

namespace boc {

class TreiberStack {
 public:
  // Any thread.
  void push(QueueNode* n) noexcept {
    // Relaxed loads and link stores: the successful CAS publishes them.
    QueueNode* head = head_.load(std::memory_order_relaxed);
    do {
      n->queue_next.store(head, std::memory_order_relaxed);
      // seq_cst on success: release for the link, and the handshake's publish.
    } while (!head_.compare_exchange_weak(head, n, std::memory_order_seq_cst, std::memory_order_relaxed));
  }

  // Any thread: the whole chain, newest first (null if empty).
  QueueNode* take_all() noexcept {
    // A seq_cst read first: an empty stack costs no write to its line.
    if (head_.load(std::memory_order_seq_cst) == nullptr) return nullptr;
    // Acquire: the links of the chain, written before the pushes' release.
    return head_.exchange(nullptr, std::memory_order_seq_cst);
  }

  // Only the owner, and only on a stack no other thread ever pushes to:
  // the newest node, or null.
  QueueNode* pop_owned() noexcept {
    QueueNode* chain = head_.exchange(nullptr, std::memory_order_seq_cst);
    if (chain == nullptr) return nullptr;
    QueueNode* rest = chain->queue_next.load(std::memory_order_relaxed);
    // Release: a thief that takes the rest (acquire) sees its links. The
    // work was published before; putting it back is not a new publish.
    if (rest != nullptr) head_.store(rest, std::memory_order_release);
    return chain;
  }

  // Only the owner, on a stack no other thread pushes to and that is empty:
  // makes `chain` (linked through queue_next) its content.
  void publish_owned(QueueNode* chain) noexcept {
    // seq_cst: release for the links, and the handshake's publish.
    head_.store(chain, std::memory_order_seq_cst);
  }

  // Any thread; a snapshot.
  bool empty() const noexcept { return head_.load(std::memory_order_seq_cst) == nullptr; }

 private:
  std::atomic<QueueNode*> head_{nullptr};
};

}  // namespace boc
