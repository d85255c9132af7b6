#include "arity.h"

namespace boc::python {

namespace {
// The common case, with no call into Python: a plain function whose
// parameters take `count` positional arguments and need no keyword one.
bool plain_function_fits(PyObject* fn, Py_ssize_t count) {
  int bound = 0;
  if (PyMethod_Check(fn)) {
    fn = PyMethod_GET_FUNCTION(fn);
    bound = 1;
  }
  if (!PyFunction_Check(fn)) return false;
  auto* code = reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(fn));
  const int not_plain = CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE;
  PyObject* defaults = PyFunction_GET_DEFAULTS(fn);
  PyObject* kwdefaults = PyFunction_GET_KW_DEFAULTS(fn);
  const Py_ssize_t positional = code->co_argcount - bound;
  const Py_ssize_t required = positional - (defaults ? PyTuple_GET_SIZE(defaults) : 0);
  const Py_ssize_t kw_required = code->co_kwonlyargcount - (kwdefaults ? PyDict_GET_SIZE(kwdefaults) : 0);
  return !(code->co_flags & not_plain) && kw_required <= 0 && count >= required &&
         (count <= positional || (code->co_flags & CO_VARARGS));
}
}  // namespace

bool check_arity(PyObject* fn, Py_ssize_t count) {
  if (plain_function_fits(fn, count)) return true;
  PyObject* signature = PyImport_ImportModule("boc.signature");
  if (signature == nullptr) return false;
  PyObject* checked = PyObject_CallMethod(signature, "check_arity", "On", fn, count);
  Py_DECREF(signature);
  Py_XDECREF(checked);
  return checked != nullptr;
}

}  // namespace boc::python
