#include "run.h"

#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>

#include "errors.h"

namespace nb = nanobind;

namespace boc::python {

namespace {

using Clock = std::chrono::steady_clock;

// A timeout longer than this (about 31 years, and infinity) waits for ever;
// adding it to the clock could overflow.
constexpr double forever_s = 1e9;

nb::dict report_to_dict(const WorkerReport& r, const SchedulerInfo& info) {
  nb::dict d;
  d["worker"] = r.worker;
  d["behaviors_run"] = r.behaviours_run;
  d["parks"] = r.parks;
  d["busy_ns"] = r.busy_ns;
  d["idle_ns"] = r.idle_ns;
  for (std::size_t i = 0; i < info.counters.size(); ++i) d[info.counters[i].name.c_str()] = r.counters[i];
  return d;
}

}  // namespace

void raise_timeout(const Runtime& rt, double timeout_s) {
  nb::str message = nb::str("behaviours still in flight after {} s (about {})")
                        .format(timeout_s, rt.behaviours_in_flight());
  raise(PyExc_TimeoutError, message.c_str());
}

nb::list stats_of(const Runtime& rt) {
  nb::list out;
  for (const WorkerReport& r : rt.stats()) out.append(report_to_dict(r, rt.scheduler_info()));
  return out;
}

bool quiesce_interruptibly(Runtime& rt, std::optional<double> timeout_s) {
  const Clock::time_point deadline = (timeout_s && *timeout_s < forever_s)
                                         ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                              std::chrono::duration<double>(*timeout_s))
                                         : Clock::time_point::max();
  for (;;) {
    const Clock::time_point now = Clock::now();
    const Clock::time_point slice_end = deadline - now > std::chrono::milliseconds(100)
                                            ? now + std::chrono::milliseconds(100)
                                            : deadline;
    bool done;
    {
      nb::gil_scoped_release unlocked;
      done = rt.quiesce(slice_end > now ? slice_end - now : Clock::duration::zero());
    }
    if (done) return true;
    if (Clock::now() >= deadline) return false;
    // Runs Python's signal handlers: Ctrl-C raises here, and a handler may
    // itself use the runtime (the caller keeps it alive).
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
  }
}

Run::Run(const std::string& scheduler, std::size_t workers, const Options& options)
    : interpreter_(PyInterpreterState_Get()), started_(Clock::now()) {
  try {
    runtime_ = std::make_unique<Runtime>(scheduler, workers, options);
  } catch (const std::invalid_argument& e) {
    throw nb::value_error(e.what());
  }
}

void Run::start() { runtime_->start(); }

bool Run::has_config(const std::string& scheduler, std::size_t workers, const Options& options) const {
  return runtime_->scheduler_info().name == scheduler && runtime_->worker_count() == workers &&
         runtime_->options() == options;
}

nb::tuple Run::config() const {
  return nb::make_tuple(runtime_->scheduler_info().name, runtime_->worker_count(), runtime_->options());
}

void Run::record_error(PyObject* exception) noexcept {
  // A failed append (out of memory) must not leave an error set in a thread
  // that is not running Python.
  if (PyList_Append(errors_.ptr(), exception) != 0) PyErr_WriteUnraisable(exception);
}

nb::list Run::errors_so_far() const { return nb::steal<nb::list>(PySequence_List(errors_.ptr())); }

nb::tuple Run::finish(std::optional<double> timeout_s) {
  if (!result_.is_valid()) {
    if (!quiesce_interruptibly(*runtime_, timeout_s)) raise_timeout(*runtime_, *timeout_s);
    // Quiescent once; now refuse outside threads, and wait for anything
    // they scheduled in between (bodies may still schedule: they finish).
    runtime_->close();
    quiesce_interruptibly(*runtime_, std::nullopt);
    {
      nb::gil_scoped_release unlocked;
      std::lock_guard<std::mutex> guard(join_mutex_);
      runtime_->stop();  // joins the workers; nothing left to do for a later caller
    }
  }
  // A caller that got here while another (or a signal handler inside this
  // call) made the result finds it made.
  if (!result_.is_valid()) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    nb::list errors = errors_so_far();
    for (const std::exception_ptr& e : runtime_->take_errors()) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& native) {
        errors.append(nb::handle(PyExc_RuntimeError)(std::string("native behaviour body failed: ") + native.what()));
      } catch (...) {
        errors.append(nb::handle(PyExc_RuntimeError)("native behaviour body failed with a non-standard exception"));
      }
    }
    nb::tuple made = nb::make_tuple(elapsed, stats_of(*runtime_), errors);
    // Making it may have run Python code (a collection, a finaliser) and let
    // another caller in; the first one made is the one every caller gets.
    if (!result_.is_valid()) result_ = made;
  }
  return nb::borrow<nb::tuple>(result_);
}

}  // namespace boc::python
