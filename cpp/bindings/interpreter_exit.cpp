#include "interpreter_exit.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "session.h"

namespace nb = nanobind;

namespace boc::python {

namespace {

// seq_cst: set by the exit hook before it lets finalisation go on; a worker
// that reads false here goes on into Python while the hook still waits.
std::atomic<bool> abandoned{false};

// Runs at the very end of Py_FinalizeEx (Py_AtExit): with Python gone, end
// the process as CPython itself does after an unhandled KeyboardInterrupt.
void exit_by_sigint() {
  if (!abandoned.load()) return;
  ::signal(SIGINT, SIG_DFL);
  ::kill(::getpid(), SIGINT);
}

// Gives up the run in progress at exit (after Ctrl-C): returns the errors
// its bodies raised so far and about how many behaviours it leaves behind.
nb::object abandon_at_exit() {
  Session& s = session();
  std::shared_ptr<Run> run = s.current();
  if (!run) return nb::none();
  abandoned.store(true);
  run->abandon();
  s.give_up_current();
  return nb::make_tuple(run->errors_so_far(false), run->runtime().behaviours_in_flight());
}

}  // namespace

void end_by_sigint_now() {
  // What finalisation would still print is printed now.
  for (const char* name : {"stdout", "stderr"}) {
    // A strong reference: another thread may replace the stream meanwhile.
    PyObject* sys = PyImport_ImportModule("sys");
    PyObject* stream = sys != nullptr ? PyObject_GetAttrString(sys, name) : nullptr;
    PyObject* done = stream != nullptr && stream != Py_None ? PyObject_CallMethod(stream, "flush", nullptr) : nullptr;
    if (done == nullptr) PyErr_Clear();
    Py_XDECREF(done);
    Py_XDECREF(stream);
    Py_XDECREF(sys);
  }
  ::signal(SIGINT, SIG_DFL);
  ::kill(::getpid(), SIGINT);
  ::_exit(128 + SIGINT);  // only if this thread blocks SIGINT and no other takes it
}

bool python_abandoned() noexcept { return abandoned.load(); }

void park_forever() noexcept {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
}

void bind_interpreter_exit(nb::module_& m) {
  Py_AtExit(&exit_by_sigint);
  m.def("begin_exit", [] {
    Session& s = session();
    s.close_for_exit();
    return static_cast<bool>(s.current());
  });
  // None when no run was in flight; else (its uncollected exceptions, the
  // behaviours abandoned).
  m.def("abandon_at_exit", &abandon_at_exit,
        nb::sig("def abandon_at_exit() -> tuple[list[BaseException], int] | None"));
  m.def("forget_last", [] { session().forget_last(); });
}

}  // namespace boc::python
