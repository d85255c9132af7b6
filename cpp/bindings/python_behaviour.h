// A behaviour whose body is a Python callable.
#pragma once

#include <Python.h>

#include <span>

#include "boc/behaviour.h"

namespace boc::python {

class Run;

class PythonBehaviour final : public Behaviour {
 public:
  // Takes new references to `fn`, `args` and `result` (a boc.Cown), and
  // copies the calling thread's context; call with the interpreter lock
  // held. `run` outlives the behaviour (it is stopped only once nothing is
  // in flight).
  PythonBehaviour(Run& run, std::span<Cown* const> cowns, PyObject* fn, PyObject* args, PyObject* result);
  ~PythonBehaviour() override;

  // Calls fn(*args) in the copied context and stores its return value (or
  // the exception it raised) in the result cown; drops the Python
  // references while it holds the lock.
  void run() override;

 private:
  void drop_references() noexcept;

  Run& run_;
  PyObject* fn_;
  PyObject* args_;
  PyObject* result_;
  // The context of the thread that called when(), copied then, as asyncio
  // does for a task: the body sees what was set before it was scheduled,
  // and what it sets stays out of later bodies on the same worker. Null when
  // that context held no variable: the body then runs in an empty one.
  PyObject* context_;
};

}  // namespace boc::python
