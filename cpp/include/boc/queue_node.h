// The intrusive link every schedulable item carries, so that scheduler
// queues never allocate.
#pragma once

#include <atomic>

namespace boc {

struct QueueNode {
  // Owned by whichever scheduler queue holds the node; strategies choose the
  // memory orders of their own protocol.
  std::atomic<QueueNode*> queue_next{nullptr};
};

}  // namespace boc
