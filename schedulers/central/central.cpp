#include "central.h"

#include "boc/registry.h"

namespace boc::central {

void CentralScheduler::attach(std::size_t workers) {
  per_worker_ = std::make_unique<PerWorker[]>(workers);
}

void CentralScheduler::dispatch(Behaviour* b, WorkerContext* from) {
  bool wake;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    // The mutex orders every access to the links; relaxed is enough.
    b->queue_next.store(nullptr, std::memory_order_relaxed);
    if (tail_ == nullptr) {
      head_ = b;
    } else {
      tail_->queue_next.store(b, std::memory_order_relaxed);
    }
    tail_ = b;
    wake = sleeping_ > 0;
  }
  if (wake) work_available_.notify_one();
  if (from != nullptr) {
    PerWorker& me = per_worker_[from->index()];
    me.dispatches.add();
    if (wake) me.notifies.add();
  }
}

Behaviour* CentralScheduler::next(WorkerContext& w, bool block) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (head_ == nullptr) {
    if (!block || stop_) return nullptr;
    ++sleeping_;
    w.stats().parks.add();
    work_available_.wait(lock);
    --sleeping_;
  }
  QueueNode* node = head_;
  head_ = node->queue_next.load(std::memory_order_relaxed);
  if (head_ == nullptr) tail_ = nullptr;
  per_worker_[w.index()].pops.add();
  return static_cast<Behaviour*>(node);
}

void CentralScheduler::request_stop() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stop_ = true;
  }
  work_available_.notify_all();
}

void CentralScheduler::read_counters(std::size_t worker, std::span<std::uint64_t> out) const {
  const PerWorker& me = per_worker_[worker];
  out[0] = me.dispatches.get();
  out[1] = me.pops.get();
  out[2] = me.notifies.get();
}

namespace {
const RegisterScheduler registration({
    .name = "central",
    .description = "one FIFO queue shared by all workers under a mutex; idle workers wait on one condition variable",
    .options = {},
    .counters =
        {
            {"dispatches", "behaviours this worker made runnable (outside threads are not counted)"},
            {"pops", "behaviours this worker took from the shared queue", "shared queue"},
            {"notifies", "times this worker woke a sleeping worker"},
        },
    .create = [](const Options&) -> std::unique_ptr<Scheduler> { return std::make_unique<CentralScheduler>(); },
});
}  // namespace

}  // namespace boc::central
