// boc.Cown: a core cown plus the Python value it guards.
#pragma once

#include <nanobind/nanobind.h>

#include "boc/behaviour.h"
#include "boc/cown.h"

namespace boc::python {

struct PyCown {
  explicit PyCown(nanobind::object v) : core(CownRef::make()), value(std::move(v)) {}

  CownRef core;
  nanobind::object value;
  nanobind::object exception;  // set when this is the result of a body that raised
};

// The Python behaviour the calling thread is running, if any (set by
// PythonBehaviour::run); used to check cown access.
const Behaviour*& current_python_behaviour();

void bind_cown(nanobind::module_& m);

}  // namespace boc::python
