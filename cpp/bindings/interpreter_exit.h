// The end of the interpreter with a run still in flight.
//
// boc's exit hook (boc/runtime.py) waits for the run; on Ctrl-C it gives the
// run up instead. From then on no worker enters Python again: CPython is
// about to finalise, and a thread that takes the interpreter lock after that
// is made to exit under our frames (or, on newer versions, hangs). Workers
// that reach for the lock park for ever instead, and the process ends, once
// the interpreter has finalised, by SIGINT, as Python's own does after an
// unhandled KeyboardInterrupt.
#pragma once

#include <nanobind/nanobind.h>

namespace boc::python {

// True once the run was given up at exit: Python must not be entered.
bool python_abandoned() noexcept;

// Blocks the calling worker for ever, holding nothing; for a worker that
// must not enter Python after python_abandoned().
[[noreturn]] void park_forever() noexcept;

// Ends the process by SIGINT now, after flushing sys.stdout and sys.stderr:
// for a run given up at exit whose remains would make CPython's own
// finalisation abort. Main interpreter's lock held.
[[noreturn]] void end_by_sigint_now();

void bind_interpreter_exit(nanobind::module_& m);

}  // namespace boc::python
