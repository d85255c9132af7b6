// Running Python bodies on a worker thread: the worker's thread state and
// its hold on the interpreter lock.
#pragma once

#include <Python.h>

#include <cstdint>

#include "boc/worker.h"

namespace boc::python {

// Kept by each worker that has run Python. It takes the interpreter lock for
// a Python body and keeps it while Python bodies follow each other, so a busy
// worker does not hand the lock back and forth per behaviour; it lets go after
// a non-Python behaviour and before the worker sleeps, and CPython's own
// switch interval shares it with other threads meanwhile.
// Workers also take turns at the lock, so that they trade it when one runs
// out of Python work rather than whenever CPython's switch interval ends.
// On a free-threaded CPython there is no lock: a worker attaches to the
// interpreter for each Python body and takes no turns.
class PythonWorker final : public WorkerResource {
 public:
  // The calling worker's instance, created on first use.
  static PythonWorker& of(WorkerContext& w, PyInterpreterState* interpreter);

  // Holds the interpreter lock on return.
  void hold();

  // A context that holds no variable, for bodies scheduled from a context
  // that held none (the common case: then no copy is made per behaviour).
  // Reused while bodies leave it empty; null with a Python error set if it
  // cannot be made. Interpreter lock held.
  PyObject* empty_context();
  // After a body ran in empty_context(): if it set a variable, the context
  // is dropped, so that the next body starts empty again.
  void after_empty_context() noexcept;

  void after_behaviour() noexcept override;
  void suspend() noexcept override { let_go(); }
  void retire() noexcept override;

 private:
  explicit PythonWorker(PyInterpreterState* interpreter);
  void let_go() noexcept;
  void give_back_turn() noexcept;

  PyThreadState* thread_state_;
  PyObject* empty_context_ = nullptr;
  bool held_ = false;
  bool has_turn_ = false;  // see Turn in python_worker.cpp
  bool ran_python_ = false;  // since the last after_behaviour()
};

}  // namespace boc::python
