#include "session.h"

#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <utility>

#include "errors.h"
#include "outside_use.h"
#include "subinterpreters/pool.h"

namespace nb = nanobind;

namespace boc::python {

Session& session() {
  static Session* s = new Session();
  return *s;
}

std::shared_ptr<Run> Session::current() {
  std::lock_guard<std::mutex> guard(mutex_);
  return current_;
}

std::shared_ptr<Run> Session::last() {
  std::lock_guard<std::mutex> guard(mutex_);
  return last_;
}

bool Session::install(const std::shared_ptr<Run>& fresh) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (current_) return false;
  fresh->start();  // threads only, no Python; a failure leaves nothing installed
  current_ = fresh;
  return true;
}

void Session::retire(const std::shared_ptr<Run>& run) {
  std::shared_ptr<Run> ended, dropped;  // destroyed after the lock is let go
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (current_ != run) return;  // another caller retired it already
    ended = std::exchange(current_, nullptr);
    dropped = std::exchange(last_, run);
  }
}

Run* Session::give_up_current() {
  std::lock_guard<std::mutex> guard(mutex_);
  Run* run = current_.get();
  // Leaked on purpose: destroying the run would wait for its workers.
  if (run != nullptr) new std::shared_ptr<Run>(std::exchange(current_, nullptr));
  return run;
}

void Session::close_for_exit() {
  std::shared_ptr<Run> run;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    exiting_ = true;
    run = current_;
  }
  if (run) run->runtime().close();
}

bool Session::exiting() {
  std::lock_guard<std::mutex> guard(mutex_);
  return exiting_;
}

void Session::forget_last() {
  std::shared_ptr<Run> dropped;
  std::lock_guard<std::mutex> guard(mutex_);
  dropped.swap(last_);
  // `dropped` goes after `guard`: declared first, destroyed last.
}

bool in_behaviour() noexcept { return WorkerContext::current() != nullptr; }

namespace {

void raise_if_in_behaviour(const char* what) {
  if (in_behaviour()) {
    raise_runtime_error(std::string(what) + " cannot be called from inside a behaviour (it would wait for itself)");
  }
}

[[noreturn]] void raise_stopping() {
  if (session().exiting()) {
    raise_runtime_error(
        "the interpreter is exiting: boc's exit hook is stopping the runtime and takes no new behaviours "
        "from outside threads");
  }
  raise_runtime_error(
      "the runtime is being stopped by a wait() in progress; call boc.start() (or boc.when()) again "
      "once it has returned");
}

[[noreturn]] void raise_exited() {
  raise_runtime_error(
      "the interpreter is exiting and boc's exit hook has already stopped the runtime, so no new run can "
      "start; schedule behaviours before the end of the program (or in an atexit handler registered after "
      "importing boc)");
}

// Starts a run with this configuration unless one is in progress. With
// `any_config` (a when() that found no run), a run in progress is used
// whatever its configuration; otherwise it must be this one.
void start(const std::string& scheduler, std::size_t workers, const Options& options,
           const std::string& executor_name, bool pin, std::size_t trace_events, bool any_config) {
  const RuntimeSettings settings{.pin = pin, .trace_events = trace_events};
  const Executor executor = executor_named(executor_name);
  Session& s = session();
  for (;;) {
    if (std::shared_ptr<Run> run = s.current()) {
      if (any_config) return;
      if (!run->has_config(scheduler, workers, options, executor, settings)) {
        nb::tuple running = run->config();
        const RuntimeSettings& now = run->runtime().settings();
        nb::object trace = now.trace_events > 0 ? nb::object(nb::int_(now.trace_events)) : nb::object(nb::bool_(false));
        raise_runtime_error(nb::str("the runtime is already running with scheduler={!r}, workers={}, "
                                    "options={!r}, executor={!r}, pin={}, trace={}; call boc.wait() before "
                                    "starting it with another configuration")
                                .format(running[0], running[1], running[2], running[3], nb::bool_(now.pin), trace)
                                .c_str());
      }
      if (run->runtime().closed()) raise_stopping();
      return;  // running with this configuration already
    }
    if (s.exiting()) raise_exited();
    raise_if_in_behaviour("start()");
    auto fresh = std::make_shared<Run>(scheduler, workers, options, executor, settings);
    if (s.install(fresh)) return;
    // Another thread started a run meanwhile: compare with that one.
  }
}

void quiesce(std::optional<double> timeout_s) {
  std::shared_ptr<Run> run = session().current();
  if (!run) return;
  raise_if_in_behaviour("quiesce()");
  if (!quiesce_interruptibly(run->runtime(), timeout_s)) raise_timeout(run->runtime(), *timeout_s);
}

// (scheduler, workers, options, executor, elapsed, stats, errors, order,
// trace) of a finished run.
nb::tuple outcome(Run& run) {
  nb::tuple config = run.config();
  nb::tuple result = run.finish(std::nullopt);  // finished: returns at once
  return nb::make_tuple(config[0], config[1], config[2], config[3], result[0], result[1], result[2], result[3],
                        result[4]);
}

// Stops the run in progress and returns its outcome; the last run's when
// none is in progress, None when none has run.
nb::object stop(std::optional<double> timeout_s) {
  Session& s = session();
  if (std::shared_ptr<Run> run = s.current()) {
    raise_if_in_behaviour("wait()");
    run->finish(timeout_s);
    s.retire(run);
    return outcome(*run);
  }
  if (std::shared_ptr<Run> last = s.last()) return outcome(*last);
  return nb::none();
}

nb::object stats() {
  Session& s = session();
  if (std::shared_ptr<Run> run = s.current()) return stats_of(*run);
  if (std::shared_ptr<Run> last = s.last()) return outcome(*last)[5];
  return nb::none();
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
  d["sequential"] = info.sequential;
  d["counters"] = counters;
  d["sources"] = sources;
  return d;
}

}  // namespace

std::shared_ptr<Run> run_for_scheduling() {
  Session& s = session();
  for (;;) {
    if (std::shared_ptr<Run> run = s.current()) return run;
    if (s.exiting()) raise_exited();
    // Starts with the defaults, or finds the run another thread started
    // meanwhile; a wait() on another thread may end that run before this
    // thread uses it, hence the loop.
    nb::module_::import_("boc.runtime").attr("_start_for_scheduling")();
  }
}

void schedule(Run& run, Behaviour* b) {
  try {
    // From a thread outside the runtime, not while a value is used (and
    // perhaps moved) outside behaviours: see outside_use.h.
    std::optional<OutsideScheduling> turn;
    if (WorkerContext::current() == nullptr) turn.emplace();
    run.runtime().schedule(b);
  } catch (const RuntimeClosed&) {
    raise_stopping();
  }
}

void bind_session(nb::module_& m) {
  m.def("schedulers", [] {
    nb::dict out;
    for (const SchedulerInfo* info : Registry::instance().all()) out[info->name.c_str()] = describe(*info);
    return out;
  }, nb::sig("def schedulers() -> dict[str, dict[str, typing.Any]]"));
  m.def("start", &start, nb::arg("scheduler"), nb::arg("workers"), nb::arg("options"), nb::arg("executor"),
        nb::arg("pin"), nb::arg("trace_events"), nb::arg("any_config"));
  m.def("executors", [] {
    nb::dict out;
    for (const auto& [name, description] : available_executors()) out[name.c_str()] = description;
    return out;
  }, nb::sig("def executors() -> dict[str, str]"));
  m.def("unavailable_executors", [] {
    nb::dict out;
    for (const auto& [name, why] : unavailable_executors()) out[name.c_str()] = why;
    return out;
  }, nb::sig("def unavailable_executors() -> dict[str, str]"));
  m.def("close_interpreters", [] {
    // At exit, after the exit hook's wait(): no run uses them any more.
    if (!session().current()) InterpreterPool::instance().close(false);
  });
  m.def("before_fork", [] {
    // CPython cannot yet fork a process that has sub-interpreters: the
    // child crashes. They are destroyed now unless a run uses them (no value
    // lives there during a run under "threads": see Run::Run); true if one
    // does, and so the child will crash.
    std::shared_ptr<Run> run = session().current();
    if (run && run->executor() == Executor::subinterpreters) return true;
    InterpreterPool::instance().close(true);
    return false;
  });
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
  // None when there was no run; else (scheduler, workers, options,
  // executor, elapsed seconds, per-worker stats, the bodies' exceptions,
  // the order behaviours ran in where the strategy records it, the trace's
  // columns where the run kept one).
  m.def("stop", &stop, nb::arg("timeout").none(),
        nb::sig("def stop(timeout: float | None) -> tuple[str, int, dict[str, int], str, float, "
                "list[dict[str, int]], list[BaseException], list[int] | None, dict[str, typing.Any] | None] | None"));
  m.def("in_flight", [] {
    std::shared_ptr<Run> run = session().current();
    return run ? run->runtime().behaviours_in_flight() : 0;
  });
  m.def("stats", &stats, nb::sig("def stats() -> list[dict[str, int]] | None"));
  m.def("after_fork_in_child", [] {
    // The parent's run is not the child's: its workers do not exist here.
    if (Run* parent = session().give_up_current()) parent->runtime().forsake();
    InterpreterPool::replace_in_child();
  });
}

}  // namespace boc::python
