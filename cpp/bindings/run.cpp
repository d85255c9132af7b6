#include "run.h"

#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>

#include <optional>

#include "errors.h"
#include "interpreters.h"
#include "outside_use.h"
#include "subinterpreters/pool.h"
#include "trace_columns.h"

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

// Makes sure the pool has an interpreter per worker; each gets what
// boc.schedulers(), boc.executors() and boc.unavailable_executors() say
// here, for bodies there to read.
void prepare_interpreters(std::size_t workers) {
  nb::module_ core = nb::module_::import_("boc._core");
  nb::bytes described = nb::borrow<nb::bytes>(nb::module_::import_("pickle").attr("dumps")(
      nb::make_tuple(core.attr("schedulers")(), core.attr("executors")(), core.attr("unavailable_executors")())));
  InterpreterPool::instance().prepare(workers, std::string(described.c_str(), described.size()));
}

}  // namespace

void raise_timeout(const Runtime& rt, double timeout_s) {
  nb::str message = nb::str("behaviours still in flight after {} s (about {})")
                        .format(timeout_s, rt.behaviours_in_flight());
  raise(PyExc_TimeoutError, message.c_str());
}

nb::list stats_of(Run& run) {
  nb::list out;
  const Runtime& rt = run.runtime();
  for (const WorkerReport& r : rt.stats()) {
    nb::dict d = report_to_dict(r, rt.scheduler_info());
    const MoveCounters& m = run.moves(r.worker);
    d["values_moved_in"] = m.values_moved_in.get();
    d["bytes_moved_in"] = m.bytes_moved_in.get();
    d["values_found_local"] = m.values_found_local.get();
    out.append(d);
  }
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

Run::Run(const std::string& scheduler, std::size_t workers, const Options& options, Executor executor,
         const RuntimeSettings& settings)
    : interpreter_(PyInterpreterState_Get()), started_(Clock::now()), executor_(executor) {
  try {
    runtime_ = std::make_unique<Runtime>(scheduler, workers, options, settings);
  } catch (const std::invalid_argument& e) {
    throw nb::value_error(e.what());
  }
  moves_ = std::make_unique<MoveCounters[]>(workers);
  if (executor == Executor::subinterpreters) {
    prepare_interpreters(workers);
  } else {
    // The run enters no sub-interpreter: values that live in one leave it
    // now, so that none is used there meanwhile (and a fork() during the
    // run may destroy them).
    InterpreterPool::instance().evict_values();
  }
}

void Run::start() { runtime_->start(); }

bool Run::has_config(const std::string& scheduler, std::size_t workers, const Options& options,
                     Executor executor, const RuntimeSettings& settings) const {
  return runtime_->scheduler_info().name == scheduler && runtime_->worker_count() == workers &&
         runtime_->options() == options && executor_ == executor && runtime_->settings().pin == settings.pin &&
         runtime_->settings().trace_events == settings.trace_events;
}

nb::tuple Run::config() const {
  return nb::make_tuple(runtime_->scheduler_info().name, runtime_->worker_count(), runtime_->options(),
                        name_of(executor_));
}

void Run::record_error(PyObject* exception) noexcept {
  auto recorded = std::make_unique<RecordedError>();
  recorded->object = nb::borrow(exception);
  std::lock_guard<std::mutex> guard(errors_mutex_);
  errors_.push_back(std::move(recorded));
}

void Run::record_error(TravellingError error) {
  auto recorded = std::make_unique<RecordedError>();
  recorded->travelling = std::move(error);
  std::lock_guard<std::mutex> guard(errors_mutex_);
  errors_.push_back(std::move(recorded));
}

namespace {
// The main interpreter's object for an exception from a sub-interpreter.
nb::object arrived(const TravellingError& e) {
  std::string failure = e.text;
  if (e.copy) {
    if (PyObject* made = e.copy->make(main_local())) return nb::steal(made);
    failure = take_error_text();
  }
  return nb::handle(PyExc_RuntimeError)(
      "a behaviour in a sub-interpreter raised, and its exception could not be brought back: " + failure);
}
}  // namespace

nb::list Run::errors_so_far(bool stopped) {
  nb::list out;
  // Setting a result cown below is a use of its value outside behaviours.
  std::optional<OutsideUse> turn;
  if (stopped) turn.emplace();
  for (std::size_t i = 0;; ++i) {
    RecordedError* e;
    {
      std::lock_guard<std::mutex> guard(errors_mutex_);
      if (i == errors_.size()) break;
      e = errors_[i].get();
      if (e->object.is_valid()) {
        out.append(e->object);
        continue;
      }
    }
    nb::object made = arrived(*e->travelling);  // runs Python code: the mutex is not held
    bool first;
    {
      std::lock_guard<std::mutex> guard(errors_mutex_);
      first = !e->object.is_valid();
      if (first) e->object = made;
      out.append(e->object);
    }
    // raised() holds until a later behaviour assigns the result cown, and
    // nothing holds the cown once the run has stopped.
    SharedCown& result = *e->travelling->result;
    if (first && stopped && result.raised()) (void)result.value().set(made.inc_ref().ptr(), main_local());
  }
  return out;
}

std::vector<std::exception_ptr> Run::native_errors() {
  std::vector<std::exception_ptr> taken = runtime_->take_errors();
  std::lock_guard<std::mutex> guard(errors_mutex_);
  native_errors_.insert(native_errors_.end(), taken.begin(), taken.end());
  return native_errors_;
}

nb::object Run::result() {
  std::lock_guard<std::mutex> guard(result_mutex_);
  return result_;
}

nb::object Run::publish(nb::object made) {
  std::lock_guard<std::mutex> guard(result_mutex_);
  if (!result_.is_valid()) result_ = std::move(made);
  return result_;
}

nb::tuple Run::finish(std::optional<double> timeout_s) {
  if (!result().is_valid()) {
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
  nb::object made = result();
  if (!made.is_valid()) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    nb::list errors = errors_so_far(true);
    for (const std::exception_ptr& e : native_errors()) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& native) {
        errors.append(nb::handle(PyExc_RuntimeError)(std::string("native behaviour body failed: ") + native.what()));
      } catch (...) {
        errors.append(nb::handle(PyExc_RuntimeError)("native behaviour body failed with a non-standard exception"));
      }
    }
    // Making it may have run Python code (a collection, a finaliser) and let
    // another caller in; the first one made is the one every caller gets.
    nb::object order = nb::none();
    if (auto ids = runtime_->run_order()) {
      nb::list listed;
      for (std::uint64_t id : *ids) listed.append(id);
      order = listed;
    }
    nb::object trace = nb::none();
    if (runtime_->settings().trace_events > 0) {
      TraceLog log;
      {
        nb::gil_scoped_release unlocked;
        log = runtime_->trace();
      }
      trace = trace_columns(log);
    }
    made = publish(nb::make_tuple(elapsed, stats_of(*this), errors, order, trace));
  }
  return nb::borrow<nb::tuple>(made);
}

}  // namespace boc::python
