#include "python_behaviour.h"

#include <nanobind/nanobind.h>

#include "interpreter_exit.h"
#include "interpreters.h"
#include "py_cown.h"
#include "python_worker.h"
#include "raised.h"
#include "run.h"

namespace nb = nanobind;

namespace boc::python {

namespace {
// A copy of the calling thread's context, or null if it holds no variable.
// Copying is cheap but makes a new object, tracked by the collector, per
// behaviour; most programs set no context variable, so the empty case is
// told apart first, from the thread's current context (null until the
// thread first uses one).
PyObject* capture_context() {
  PyObject* current = PyThreadState_Get()->context;
  if (current == nullptr) return nullptr;
  const Py_ssize_t size = PyObject_Length(current);
  if (size == 0) return nullptr;
  if (size < 0) PyErr_Clear();  // cannot happen for a context; copying tells for sure
  PyObject* copy = PyContext_CopyCurrent();
  if (copy == nullptr) throw nb::python_error();
  return copy;
}
}  // namespace

PythonBehaviour::PythonBehaviour(Run& run, std::span<Cown* const> cowns, PyObject* fn, PyObject* args,
                                 PyObject* result)
    : Behaviour(cowns), run_(run), fn_(fn), args_(args), result_(result), context_(capture_context()) {
  Py_INCREF(fn_);
  Py_INCREF(args_);
  Py_INCREF(result_);
}

PythonBehaviour::~PythonBehaviour() {
  // Only reached with references for a behaviour that never ran (refused
  // by a closed runtime); take the lock to let go, unless Python is gone.
  if (fn_ != nullptr && !python_abandoned()) {
    PyGILState_STATE state = PyGILState_Ensure();
    drop_references();
    PyGILState_Release(state);
  }
}

void PythonBehaviour::drop_references() noexcept {
  Py_CLEAR(fn_);
  Py_CLEAR(args_);
  Py_CLEAR(result_);
  Py_CLEAR(context_);
}

void PythonBehaviour::run() {
  PythonWorker& worker = PythonWorker::of(*WorkerContext::current(), run_.interpreter());
  worker.hold();

  PyObject* value = nullptr;
  PyObject* exc = nullptr;
  PyObject* context = context_ != nullptr ? context_ : worker.empty_context();
  if (context != nullptr && PyContext_Enter(context) == 0) {
    current_python_behaviour() = this;
    value = PyObject_Call(fn_, args_, nullptr);
    current_python_behaviour() = nullptr;
    if (value == nullptr) exc = take_raised_exception();
    // Cannot fail: this thread entered this very context just now.
    if (PyContext_Exit(context) != 0) PyErr_Clear();
    if (context_ == nullptr) worker.after_empty_context();
  } else {
    exc = take_raised_exception();
  }

  SharedCown& result = *nb::inst_ptr<PyCown>(result_)->state;
  if (value != nullptr) {
    (void)result.value().set(value, main_local());  // a new result cown: never being moved
  } else {
    run_.record_error(exc);
    (void)result.value().set(exc, main_local());
    result.set_raised(true);
  }
  drop_references();
}

}  // namespace boc::python
