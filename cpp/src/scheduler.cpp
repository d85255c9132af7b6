#include "boc/scheduler.h"

#include "boc/platform.h"

namespace boc {

void Scheduler::record_steal(std::size_t thief, std::size_t victim, std::size_t taken) noexcept {
  trace_->ring(thief).record(TraceRecord::steal, platform::tick(), 0, taken, static_cast<std::int32_t>(victim));
}

}  // namespace boc
