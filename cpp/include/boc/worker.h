// What the core knows about each worker thread, and what it lends to bodies.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "boc/counter.h"
#include "boc/platform.h"
#include "boc/terminator.h"
#include "boc/trace.h"

namespace boc {

class Runtime;

// Something a body keeps across behaviours on one worker (an interpreter
// lock, say) and that the worker must let go of before it sleeps.
class WorkerResource {
 public:
  virtual ~WorkerResource() = default;
  // After every behaviour: the resource may let go now if it should.
  virtual void after_behaviour() noexcept = 0;
  // The worker is about to wait for work: let go.
  virtual void suspend() noexcept = 0;
  // The worker thread ends: let go and clean up; not used again after this.
  virtual void retire() noexcept = 0;
};

// Counters the core keeps for every worker, whatever the strategy.
struct WorkerStats {
  Counter behaviours_run;
  Counter parks;    // each time the worker blocks: ParkingLot::sleep counts it
                    // (a strategy that blocks a worker its own way, too)
  Counter idle_ns;  // time spent waiting for work
};

// A cache line apart from its neighbours: each worker writes its own
// counters, flags and credits on every behaviour.
class alignas(platform::cache_line) WorkerContext {
 public:
  WorkerContext(Runtime& runtime, std::size_t index) noexcept : runtime_(runtime), index_(index) {}
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  Runtime& runtime() const noexcept { return runtime_; }
  std::size_t index() const noexcept { return index_; }
  WorkerStats& stats() noexcept { return stats_; }
  const WorkerStats& stats() const noexcept { return stats_; }

  // True while this worker runs a behaviour's body; false while it releases
  // the cowns afterwards. A strategy can tell work scheduled from inside a
  // body (which may go on for long) from successors released at its end
  // (this worker looks for work right after). Only this worker's thread
  // reads or writes it, as dispatch(b, from) runs on the thread of `from`.
  bool running_body() const noexcept { return running_body_; }

  // The worker the calling thread is, or null on any other thread.
  static WorkerContext* current() noexcept { return current_; }

  // This worker's ring of the runtime's trace, or null when not tracing.
  TraceRing* trace() const noexcept { return trace_; }

  // Registers a resource for after_behaviour/suspend/retire calls.
  void add_resource(WorkerResource* r) { resources_.push_back(r); }

 private:
  friend class Runtime;
  void after_behaviour() noexcept {
    for (WorkerResource* r : resources_) r->after_behaviour();
  }
  void suspend_resources() noexcept {
    for (WorkerResource* r : resources_) r->suspend();
  }
  void retire_resources() noexcept;

  // Inline, so that a body and schedule() find their worker without a call.
  static constinit inline thread_local WorkerContext* current_ = nullptr;

  Runtime& runtime_;
  const std::size_t index_;
  WorkerStats stats_;
  std::vector<WorkerResource*> resources_;
  // Steady-clock nanoseconds when the worker started and (once it ended)
  // stopped; busy time is the lifetime minus the idle time.
  std::atomic<std::int64_t> started_ns_{0};
  std::atomic<std::int64_t> stopped_ns_{0};
  std::atomic<std::int64_t> idle_since_ns_{0};  // 0 unless waiting now
  bool running_body_ = false;
  Terminator::Credits credits_;  // see terminator.h
  TraceRing* trace_ = nullptr;
};

}  // namespace boc
