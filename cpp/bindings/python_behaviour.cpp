#include "python_behaviour.h"

#include <nanobind/nanobind.h>

#include "py_cown.h"
#include "python_worker.h"
#include "session.h"

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

PythonBehaviour::PythonBehaviour(std::span<Cown* const> cowns, PyObject* fn, PyObject* args,
                                 PyObject* result)
    : Behaviour(cowns), fn_(fn), args_(args), result_(result) {
  Py_INCREF(fn_);
  Py_INCREF(args_);
  Py_INCREF(result_);
}

PythonBehaviour::~PythonBehaviour() {
  if (fn_ != nullptr) {
    // Only reached for a behaviour that never ran; take the lock to let go.
    PyGILState_STATE state = PyGILState_Ensure();
    drop_references();
    PyGILState_Release(state);
  }
}

void PythonBehaviour::drop_references() noexcept {
  Py_CLEAR(fn_);
  Py_CLEAR(args_);
  Py_CLEAR(result_);
}

void PythonBehaviour::run() {
  Session& s = session();
  PythonWorker::of(*WorkerContext::current(), s.interpreter).hold();

  current_python_behaviour() = this;
  PyObject* value = PyObject_Call(fn_, args_, nullptr);
  current_python_behaviour() = nullptr;

  PyCown* result = nb::inst_ptr<PyCown>(result_);
  if (value != nullptr) {
    result->value = nb::steal(value);
  } else {
    PyObject* exc = take_raised_exception();
    result->value = nb::borrow(exc);
    result->exception = nb::borrow(exc);
    // Kept for wait(); a failed append (out of memory) must not leave an
    // error set in a thread that is not running Python.
    if (s.errors != nullptr && PyList_Append(s.errors, exc) != 0) PyErr_WriteUnraisable(exc);
    Py_DECREF(exc);
  }
  drop_references();
}

}  // namespace boc::python
