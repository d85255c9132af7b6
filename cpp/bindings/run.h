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
#include <vector>

#include "boc/runtime.h"
#include "executors.h"
#include "portable.h"
#include "shared_cown.h"

namespace boc::python {

// An exception a body raised in a sub-interpreter, on its way to wait().
struct TravellingError {
  std::optional<Portable> copy;  // pickled where it was raised
  std::string text;              // what went wrong, if it would not pickle
  SharedCownRef result;          // the cown the body returned into
};

class Run {
 public:
  // Creates the runtime (ValueError for a bad configuration); its workers
  // start with start().
  // Under "subinterpreters" the workers' interpreters are made (or found)
  // here too.
  Run(const std::string& scheduler, std::size_t workers, const Options& options, Executor executor,
      const RuntimeSettings& settings);
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  void start();

  Runtime& runtime() noexcept { return *runtime_; }
  const Runtime& runtime() const noexcept { return *runtime_; }
  PyInterpreterState* interpreter() const noexcept { return interpreter_; }

  Executor executor() const noexcept { return executor_; }

  bool has_config(const std::string& scheduler, std::size_t workers, const Options& options, Executor executor,
                  const RuntimeSettings& settings) const;
  // (scheduler, workers, options, executor), as boc.start() takes them.
  nanobind::tuple config() const;

  // Keeps the exception a Python body raised, for wait(). Interpreter lock held.
  void record_error(PyObject* exception) noexcept;
  // The same for a body in a sub-interpreter, from any thread.
  void record_error(TravellingError error);
  // The exceptions recorded so far, in order (a new list). Main
  // interpreter's lock held. Exceptions from sub-interpreters are made
  // objects here, once; once the run is `stopped`, that object also
  // replaces the exception in the body's result cown (unless it was
  // assigned since), so that both are the same object.
  nanobind::list errors_so_far(bool stopped);

  // Worker `k`'s value moves (all zero under "threads").
  MoveCounters& moves(std::size_t k) noexcept { return moves_[k]; }

  // Waits up to `timeout_s` (None: for ever) for quiescence, then closes the
  // runtime to outside threads, waits for what they had scheduled, stops the
  // workers and returns (elapsed seconds, stats, errors, run order, trace:
  // see trace_columns.h, or None). Any number of
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
  const Executor executor_;
  // Every exception a body raised, in the order recorded: an object of the
  // main interpreter, or one still on its way from a sub-interpreter. The
  // mutex guards the vector and each entry's object; it is never held while
  // Python code runs, which may start another errors_so_far() (another
  // thread's wait(), or a signal handler's inside this thread's).
  struct RecordedError {
    nanobind::object object;
    std::optional<TravellingError> travelling;
  };
  std::mutex errors_mutex_;
  std::vector<std::unique_ptr<RecordedError>> errors_;
  // What native bodies threw, taken from the runtime by whichever finish()
  // got there first and kept for every caller (errors_mutex_).
  std::vector<std::exception_ptr> native_errors_;
  std::vector<std::exception_ptr> native_errors();
  std::unique_ptr<MoveCounters[]> moves_;
  std::mutex join_mutex_;  // one thread at a time stops the workers
  // finish()'s tuple, once it is made. Callers on several threads read and
  // publish it at once where there is no interpreter lock (free-threaded
  // CPython); the mutex is held only for a reference count, never while
  // Python code runs.
  std::mutex result_mutex_;
  nanobind::object result_;
  nanobind::object result();
  nanobind::object publish(nanobind::object made);
};

// One dict per worker: the core's counters, the strategy's and the
// executor's (value moves).
nanobind::list stats_of(Run& run);

// Raises TimeoutError for a wait of `timeout_s` on `rt` that ran out.
[[noreturn]] void raise_timeout(const Runtime& rt, double timeout_s);

// Waits for quiescence of `rt` without the interpreter lock, in slices so
// that Ctrl-C (a pending signal) interrupts the wait and signal handlers
// run. False on timeout; None or an infinite or huge timeout waits for ever.
bool quiesce_interruptibly(Runtime& rt, std::optional<double> timeout_s);

}  // namespace boc::python
