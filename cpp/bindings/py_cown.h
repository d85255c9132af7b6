// boc.Cown: a core cown plus the Python value it guards.
#pragma once

#include <nanobind/nanobind.h>

#include <string>

#include "boc/behaviour.h"
#include "boc/cown.h"

namespace boc::python {

struct PyCown {
  explicit PyCown(nanobind::object v) : core(CownRef::make()), value(std::move(v)) {}

  CownRef core;
  nanobind::object value;
  nanobind::object exception;  // set when this is the result of a body that raised
};

// True if `o` is a boc.Cown (or subclass instance) whose __init__ ran; a
// subclass whose __init__ skips boc.Cown.__init__ makes ones that are not.
bool is_initialised_cown(nanobind::handle o);

// "a <type> that was never initialised: <what to do>", for TypeErrors about
// `o`, a Cown instance that is not initialised.
std::string uninitialised_cown_message(nanobind::handle o);

// The Python behaviour the calling thread is running, if any (set by
// PythonBehaviour::run); used to check cown access.
const Behaviour*& current_python_behaviour();

void bind_cown(nanobind::module_& m);

}  // namespace boc::python
