// The runtime: workers, the two-phase scheduling protocol, the terminator.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "boc/behaviour.h"
#include "boc/registry.h"
#include "boc/scheduler.h"
#include "boc/terminator.h"
#include "boc/trace.h"
#include "boc/worker.h"

namespace boc {

// A snapshot of one worker's statistics.
struct WorkerReport {
  std::size_t worker = 0;
  std::uint64_t behaviours_run = 0;
  std::uint64_t parks = 0;
  std::uint64_t busy_ns = 0;
  std::uint64_t idle_ns = 0;
  std::vector<std::uint64_t> counters;  // the strategy's, in its registered order
};

// What schedule() throws for a behaviour from an outside thread once the
// runtime is closed (see Runtime::close); the behaviour was deleted.
class RuntimeClosed : public std::runtime_error {
 public:
  RuntimeClosed() : std::runtime_error("the runtime is closed to new work from outside its workers") {}
};

// How the runtime runs its workers, whatever the strategy.
struct RuntimeSettings {
  // Pin worker i to the i-th CPU the process may use (modulo their number;
  // see platform::pin_current_thread), as Verona-RT does. Off by default:
  // on a shared machine a pinned worker cannot move off a busy core.
  bool pin = false;
  // Records per worker kept by a trace of the run (see trace.h); 0, the
  // default, keeps none and costs nothing.
  std::size_t trace_events = 0;
};

class Runtime {
 public:
  // Creates the strategy `scheduler` with `options` (checked; see
  // Registry::resolve_options) and `workers` threads (at least one).
  Runtime(const std::string& scheduler, std::size_t workers, const Options& options = {},
          const RuntimeSettings& settings = {});
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  // Stops the workers if they still run (waiting for quiescence first).
  ~Runtime();

  void start();

  // Takes ownership of `b` and schedules it: it runs once it holds all of
  // its cowns, after every behaviour scheduled earlier on any of them.
  // Callable from any thread, including from inside a behaviour. Throws
  // RuntimeClosed (having deleted `b`) when called from a thread other than
  // this runtime's workers after close().
  void schedule(Behaviour* b);

  // Refuses new behaviours from outside threads from now on, while this
  // runtime's own workers may still schedule (a running body's children),
  // so that everything in flight still completes and quiescence, once
  // reached, is final. Idempotent; callable from any thread.
  void close() noexcept;
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // For the child of a fork(): this runtime's workers do not exist there, so
  // its behaviours will never run. Closes it and lets other runtimes take
  // over the cowns its behaviours held or waited for, as if those were free.
  // A forsaken runtime must not be used or destroyed (its destructor would
  // wait for threads that do not exist); the caller leaks it.
  void forsake() noexcept;

  // Blocks until no behaviour is in flight; false if `timeout` ran out first.
  bool quiesce(std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

  // Closes the runtime, waits for quiescence, then stops and joins the
  // workers. Not to be called by two threads at once.
  void stop();

  bool running() const noexcept { return running_; }
  // Behaviours in flight plus finished ones whose workers have not reported
  // them yet: zero exactly when quiescent (see terminator.h).
  std::int64_t in_flight() const noexcept { return terminator_.in_flight(); }
  // An estimate, for messages, of the behaviours really in flight: in_flight()
  // less the finished ones workers still hold as credits.
  std::int64_t behaviours_in_flight() const noexcept;
  std::size_t worker_count() const noexcept { return workers_.size(); }
  const SchedulerInfo& scheduler_info() const noexcept { return info_; }
  const Options& options() const noexcept { return options_; }
  const RuntimeSettings& settings() const noexcept { return settings_; }
  // Workers that asked to be pinned and were (at most worker_count()).
  std::size_t pinned_workers() const noexcept { return pinned_.load(std::memory_order_relaxed); }

  std::vector<WorkerReport> stats() const;
  // The behaviours run, in order, where the strategy records it (see
  // Scheduler::run_order).
  std::optional<std::vector<std::uint64_t>> run_order() const { return scheduler_->run_order(); }

  // The run's trace, collected: only once stop() has returned, and only if
  // the runtime was made with RuntimeSettings::trace_events (std::logic_error
  // otherwise, saying which).
  TraceLog trace() const;

  // Exceptions thrown by native bodies since the last call.
  std::vector<std::exception_ptr> take_errors();

 private:
  template <bool traced>
  void worker_loop(WorkerContext& w);
  template <bool traced>
  void run_behaviour(Behaviour* b, WorkerContext& w);
  // Dispatches `b`, made runnable at `tick` by the calling thread (`here`,
  // or an outside thread), and records it in the trace.
  void dispatch_traced(Behaviour* b, WorkerContext* here, std::uint64_t tick);
  // Worker `w`'s source counters, and their values when last looked at.
  struct SourcesSeen {
    std::vector<const std::atomic<std::uint64_t>*> cells;
    std::vector<std::uint64_t> values;
  };
  SourcesSeen sources_of(const WorkerContext& w) const;
  // The index among the strategy's sources of the counter that grew since
  // last looked at: where the worker found the behaviour it just took.
  static std::int32_t found_at(SourcesSeen& seen) noexcept;
  void run_body(Behaviour* b);
  void schedule_one(Behaviour* b, WorkerContext* here);
  void schedule_many(Behaviour* b, WorkerContext* here);
  static void link_behind(Slot* prev, Slot& slot) noexcept;
  template <bool traced>
  void release(Behaviour& b, WorkerContext* from, std::uint64_t tick);
  // The calling thread's worker if it is one of this runtime's, else null.
  WorkerContext* local_worker() const noexcept {
    WorkerContext* w = WorkerContext::current();
    return (w != nullptr && &w->runtime() == this) ? w : nullptr;
  }
  // True if `prev`, the request ahead of one of ours on a cown, belongs to a
  // forsaken runtime and so will never hand the cown on.
  bool forsaken_request(const Slot* prev) const noexcept {
    // prev's fields and its behaviour's runtime_ were written before the
    // exchange that published prev, which our exchange acquired. Only
    // another runtime can be forsaken while this one schedules.
    const Runtime* owner = prev->behaviour->runtime_;
    return owner != this && owner->forsaken_.load(std::memory_order_relaxed);
  }

  const SchedulerInfo& info_;
  Options options_;
  RuntimeSettings settings_;
  std::atomic<std::size_t> pinned_{0};
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<const CounterInfo*> sources_;  // the strategy's source counters
  std::unique_ptr<Trace> trace_;             // null unless tracing
  std::vector<std::unique_ptr<WorkerContext>> workers_;
  std::vector<std::thread> threads_;
  Terminator terminator_;
  bool running_ = false;
  bool stopped_ = false;
  std::atomic<bool> closed_{false};
  std::atomic<bool> forsaken_{false};

  std::mutex errors_mutex_;
  std::vector<std::exception_ptr> errors_;
};

}  // namespace boc
