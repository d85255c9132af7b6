#include "boc/worker.h"

namespace boc {

namespace {
thread_local WorkerContext* current_worker = nullptr;
}

WorkerContext* WorkerContext::current() noexcept { return current_worker; }

void WorkerContext::retire_resources() noexcept {
  for (WorkerResource* r : resources_) r->retire();
  resources_.clear();
}

// Runtime sets the thread-local through this hook (declared in runtime.cpp).
void set_current_worker(WorkerContext* w) noexcept { current_worker = w; }

}  // namespace boc
