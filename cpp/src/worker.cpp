#include "boc/worker.h"

namespace boc {

void WorkerContext::retire_resources() noexcept {
  for (WorkerResource* r : resources_) r->retire();
  resources_.clear();
}

}  // namespace boc
