// Raising Python exceptions from the bindings with boc's own messages.
#pragma once

#include <nanobind/nanobind.h>

#include <string>

namespace boc::python {

// Raises the Python exception `type` (PyExc_TimeoutError, ...) with `message`.
[[noreturn]] inline void raise(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw nanobind::python_error();
}

[[noreturn]] inline void raise_runtime_error(const std::string& message) { raise(PyExc_RuntimeError, message); }
[[noreturn]] inline void raise_type_error(const std::string& message) { raise(PyExc_TypeError, message); }

}  // namespace boc::python
