#include "python_behaviour.h"

#include <nanobind/nanobind.h>

#include "interpreter_exit.h"
#include "py_cown.h"
#include "python_worker.h"
#include "run.h"

namespace nb = nanobind;

namespace boc::python {

namespace {
// The exception being raised, normalised, with its traceback attached.
PyObject* take_raised_exception() {
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException();
#else
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  if (traceback != nullptr) PyException_SetTraceback(value, traceback);
  Py_XDECREF(type);
  Py_XDECREF(traceback);
  return value;
#endif
}
}  // namespace

PythonBehaviour::PythonBehaviour(Run& run, std::span<Cown* const> cowns, PyObject* fn, PyObject* args,
                                 PyObject* result)
    : Behaviour(cowns), run_(run), fn_(fn), args_(args), result_(result), context_(PyContext_CopyCurrent()) {
  if (context_ == nullptr) throw nb::python_error();
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
  PythonWorker::of(*WorkerContext::current(), run_.interpreter()).hold();

  PyObject* value = nullptr;
  PyObject* exc = nullptr;
  if (PyContext_Enter(context_) == 0) {
    current_python_behaviour() = this;
    value = PyObject_Call(fn_, args_, nullptr);
    current_python_behaviour() = nullptr;
    if (value == nullptr) exc = take_raised_exception();
    // Cannot fail: this thread entered this very context just now.
    if (PyContext_Exit(context_) != 0) PyErr_Clear();
  } else {
    exc = take_raised_exception();
  }

  PyCown* result = nb::inst_ptr<PyCown>(result_);
  if (value != nullptr) {
    result->value = nb::steal(value);
  } else {
    result->value = nb::borrow(exc);
    result->exception = nb::borrow(exc);
    run_.record_error(exc);
    Py_DECREF(exc);
  }
  drop_references();
}

}  // namespace boc::python
