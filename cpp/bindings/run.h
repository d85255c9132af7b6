// One run of the runtime, from start() to the end of the wait() that stops
// it: the core runtime and what Python keeps beside it.
//
// Every call that uses a run holds a std::shared_ptr to it for the whole
// call, so a run outlives any call still inside it: a quiesce() on one
// thread while another thread's wait() ends the run, or a signal handler's
// wait() that runs inside the main thread's wait(). A run holds Python
// objects, so it is created and destroyed with the interpreter lock held.
#pragma once

#include <nanobind/nanobind.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "boc/runtime.h"

namespace boc::python {

class Run {
 public:
  // Creates the runtime (ValueError for a bad configuration); its workers
  // start with start().
  Run(const std::string& scheduler, std::size_t workers, const Options& options);
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  void start();

  Runtime& runtime() noexcept { return *runtime_; }
  const Runtime& runtime() const noexcept { return *runtime_; }
  PyInterpreterState* interpreter() const noexcept { return interpreter_; }

  bool has_config(const std::string& scheduler, std::size_t workers, const Options& options) const;
  // (scheduler, workers, options), as boc.start() takes them.
  nanobind::tuple config() const;

  // Keeps the exception a Python body raised, for wait(). Interpreter lock held.
  void record_error(PyObject* exception) noexcept;
  // The exceptions recorded so far (a new list).
  nanobind::list errors_so_far() const;

  // Waits up to `timeout_s` (None: for ever) for quiescence, then closes the
  // runtime to outside threads, waits for what they had scheduled, stops the
  // workers and returns (elapsed seconds, stats, errors). Any number of
  // threads may call it, one inside another too (a signal handler): each
  // gets the same tuple. Raises TimeoutError when the time runs out and
  // KeyboardInterrupt on Ctrl-C; either leaves the run going.
  nanobind::tuple finish(std::optional<double> timeout_s);

  // Ends the run's use of Python for a process that is exiting without it
  // (see interpreter_exit.h): the runtime is closed and never joined.
  void abandon() noexcept { runtime_->close(); }

 private:
  std::unique_ptr<Runtime> runtime_;
  PyInterpreterState* const interpreter_;
  const std::chrono::steady_clock::time_point started_;
  nanobind::list errors_;  // appended by bodies, interpreter lock held
  std::mutex join_mutex_;  // one thread at a time stops the workers
  nanobind::object result_;  // finish()'s tuple, once it is made
};

// One dict per worker: the core's counters and the strategy's.
nanobind::list stats_of(const Runtime& rt);

// Raises TimeoutError for a wait of `timeout_s` on `rt` that ran out.
[[noreturn]] void raise_timeout(const Runtime& rt, double timeout_s);

// Waits for quiescence of `rt` without the interpreter lock, in slices so
// that Ctrl-C (a pending signal) interrupts the wait and signal handlers
// run. False on timeout; None or an infinite or huge timeout waits for ever.
bool quiesce_interruptibly(Runtime& rt, std::optional<double> timeout_s);

}  // namespace boc::python
