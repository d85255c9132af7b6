#include "session.h"

#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cmath>

#include "py_cown.h"

namespace nb = nanobind;

namespace boc::python {

Session& session() {
  static Session* s = new Session();
  return *s;
}

Runtime& runtime_for_scheduling() {
  Session& s = session();
  if (!s.runtime || !s.accepting) {
    raise_runtime_error(s.runtime ? "the runtime is stopping; call start() again after wait() returns"
                                          : "the runtime is not running; call boc.start() first");
  }
  return *s.runtime;
}

namespace {

void raise_if_in_behaviour(const char* what) {
  if (WorkerContext::current() != nullptr) {
    raise_runtime_error(std::string(what) +
                                    " cannot be called from inside a behaviour (it would wait for itself)");
  }
}

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

nb::list stats_of(const Runtime& rt) {
  nb::list out;
  for (const WorkerReport& r : rt.stats()) out.append(report_to_dict(r, rt.scheduler_info()));
  return out;
}

// Waits for quiescence without the interpreter lock, in slices so that
// Ctrl-C (a pending signal) interrupts the wait. False on timeout.
bool quiesce_interruptibly(Runtime& rt, std::optional<double> timeout_s) {
  using namespace std::chrono;
  const auto deadline =
      timeout_s ? steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(*timeout_s))
                : steady_clock::time_point::max();
  for (;;) {
    const auto slice_end = std::min(deadline, steady_clock::now() + milliseconds(100));
    bool done;
    {
      nb::gil_scoped_release unlocked;
      done = rt.quiesce(slice_end - steady_clock::now());
    }
    if (done) return true;
    if (steady_clock::now() >= deadline) return false;
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
  }
}

void start(const std::string& scheduler, std::size_t workers, const Options& options) {
  Session& s = session();
  if (s.runtime) {
    raise_runtime_error("the runtime is already running");
  }
  raise_if_in_behaviour("start()");
  try {
    s.runtime = std::make_unique<Runtime>(scheduler, workers, options);
  } catch (const std::invalid_argument& e) {
    throw nb::value_error(e.what());
  }
  s.interpreter = PyInterpreterState_Get();
  s.errors = PyList_New(0);
  s.accepting = true;
  s.started = std::chrono::steady_clock::now();
  s.runtime->start();
}

bool quiesce(std::optional<double> timeout_s) {
  Session& s = session();
  if (!s.runtime) return true;
  raise_if_in_behaviour("quiesce()");
  return quiesce_interruptibly(*s.runtime, timeout_s);
}

// Stops a quiescent runtime: returns (elapsed seconds, stats, errors).
nb::tuple stop() {
  Session& s = session();
  if (!s.runtime) raise_runtime_error("the runtime is not running");
  raise_if_in_behaviour("wait()");
  quiesce_interruptibly(*s.runtime, std::nullopt);
  s.accepting = false;
  {
    nb::gil_scoped_release unlocked;
    s.runtime->stop();
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.started).count();
  nb::list stats = stats_of(*s.runtime);
  nb::list errors = nb::steal<nb::list>(s.errors);
  s.errors = nullptr;
  for (const std::exception_ptr& e : s.runtime->take_errors()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& native) {
      errors.append(nb::handle(PyExc_RuntimeError)(std::string("native behaviour body failed: ") + native.what()));
    } catch (...) {
      errors.append(nb::handle(PyExc_RuntimeError)("native behaviour body failed with a non-standard exception"));
    }
  }
  s.runtime.reset();
  return nb::make_tuple(elapsed, stats, errors);
}

nb::object config() {
  const Session& s = session();
  if (!s.runtime) return nb::none();
  return nb::make_tuple(s.runtime->scheduler_info().name, s.runtime->worker_count(), s.runtime->options());
}

nb::dict describe(const SchedulerInfo& info) {
  nb::dict options, counters, sources;
  for (const OptionInfo& o : info.options) {
    nb::dict d;
    d["description"] = o.description;
    d["default"] = o.default_value;
    d["min"] = o.min;
    d["max"] = o.max;
    options[o.name.c_str()] = d;
  }
  for (const CounterInfo& c : core_counters()) counters[c.name.c_str()] = c.description;
  for (const CounterInfo& c : info.counters) {
    counters[c.name.c_str()] = c.description;
    if (!c.source.empty()) sources[c.name.c_str()] = c.source;
  }
  nb::dict d;
  d["description"] = info.description;
  d["options"] = options;
  d["counters"] = counters;
  d["sources"] = sources;
  return d;
}

}  // namespace

void bind_session(nb::module_& m) {
  m.def("schedulers", [] {
    nb::dict out;
    for (const SchedulerInfo* info : Registry::instance().all()) out[info->name.c_str()] = describe(*info);
    return out;
  });
  m.def("start", &start, nb::arg("scheduler"), nb::arg("workers"), nb::arg("options"));
  m.def(
      "resolve_options",
      [](const std::string& scheduler, const Options& given) {
        try {
          return Registry::resolve_options(Registry::instance().get(scheduler), given);
        } catch (const std::invalid_argument& e) {
          throw nb::value_error(e.what());
        }
      },
      nb::arg("scheduler"), nb::arg("options"));
  m.def("quiesce", &quiesce, nb::arg("timeout").none());
  m.def("stop", &stop);
  m.def("config", &config);
  m.def("running", [] { return static_cast<bool>(session().runtime); });
  m.def("in_flight", [] {
    const Session& s = session();
    return s.runtime ? s.runtime->in_flight() : 0;
  });
  m.def("in_behaviour", [] { return WorkerContext::current() != nullptr; });
  m.def("stats", [] {
    const Session& s = session();
    return s.runtime ? nb::object(stats_of(*s.runtime)) : nb::none();
  });
}

}  // namespace boc::python
