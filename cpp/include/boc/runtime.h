// The runtime: workers, the two-phase scheduling protocol, the terminator.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "boc/behaviour.h"
#include "boc/registry.h"
#include "boc/scheduler.h"
#include "boc/terminator.h"
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

class Runtime {
 public:
  // Creates the strategy `scheduler` with `options` (checked; see
  // Registry::resolve_options) and `workers` threads (at least one).
  Runtime(const std::string& scheduler, std::size_t workers, const Options& options = {});
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  // Stops the workers if they still run (waiting for quiescence first).
  ~Runtime();

  void start();

  // Takes ownership of `b` and schedules it: it runs once it holds all of
  // its cowns, after every behaviour scheduled earlier on any of them.
  // Callable from any thread, including from inside a behaviour.
  void schedule(Behaviour* b);

  // Blocks until no behaviour is in flight; false if `timeout` ran out first.
  bool quiesce(std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

  // Waits for quiescence, then stops and joins the workers.
  void stop();

  bool running() const noexcept { return running_; }
  std::int64_t in_flight() const noexcept { return terminator_.in_flight(); }
  std::size_t worker_count() const noexcept { return workers_.size(); }
  const SchedulerInfo& scheduler_info() const noexcept { return info_; }
  const Options& options() const noexcept { return options_; }

  std::vector<WorkerReport> stats() const;

  // Exceptions thrown by native bodies since the last call.
  std::vector<std::exception_ptr> take_errors();

 private:
  void worker_loop(WorkerContext& w);
  void run_behaviour(Behaviour* b, WorkerContext& w);
  void release(Behaviour& b, WorkerContext* from);
  WorkerContext* local_worker() const noexcept;

  const SchedulerInfo& info_;
  Options options_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::unique_ptr<WorkerContext>> workers_;
  std::vector<std::thread> threads_;
  Terminator terminator_;
  bool running_ = false;
  bool stopped_ = false;

  std::mutex errors_mutex_;
  std::vector<std::exception_ptr> errors_;
};

}  // namespace boc
