// The central queue: one FIFO shared by all workers under one mutex; idle
// workers wait on one condition variable and producers notify it.
//
//   dispatch(b):  lock; append b; if a worker sleeps: notify one
//   next(w):      lock; while queue empty: (stop requested? return none) sleep
//                 pop the front; return it
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "boc/counter.h"
#include "boc/platform.h"
#include "boc/scheduler.h"

namespace boc::central {

class CentralScheduler final : public Scheduler {
 public:
  void attach(std::size_t workers) override;
  void dispatch(Behaviour* b, WorkerContext* from) override;
  Behaviour* next(WorkerContext& w, bool block) override;
  void request_stop() override;
  void read_counters(std::size_t worker, std::span<std::uint64_t> out) const override;

 private:
  struct alignas(platform::cache_line) PerWorker {
    Counter dispatches;  // behaviours this worker made runnable
    Counter pops;        // behaviours this worker took from the queue
    Counter notifies;    // wake-ups this worker sent to sleeping workers
  };

  std::mutex mutex_;
  std::condition_variable work_available_;
  // Intrusive FIFO through QueueNode::queue_next, guarded by mutex_.
  QueueNode* head_ = nullptr;
  QueueNode* tail_ = nullptr;
  std::size_t sleeping_ = 0;
  bool stop_ = false;
  std::unique_ptr<PerWorker[]> per_worker_;
};

}  // namespace boc::central
