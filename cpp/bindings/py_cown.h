// boc.Cown in the main interpreter: a nanobind object holding a SharedCown.
#pragma once

#include <nanobind/nanobind.h>

#include <string>

#include "shared_cown.h"

namespace boc::python {

struct PyCown {
  explicit PyCown(SharedCownRef s) : state(std::move(s)) {}
  PyCown(const PyCown&) = delete;
  PyCown(PyCown&&) = default;
  ~PyCown();
  SharedCownRef state;
  Cown* core() const noexcept { return state->core(); }
};

// True if `o` is a boc.Cown (or subclass instance) whose __init__ ran; a
// subclass whose __init__ skips boc.Cown.__init__ makes ones that are not.
bool is_initialised_cown(nanobind::handle o);

// "a <type> that was never initialised: <what to do>", for TypeErrors about
// `o`, a Cown instance that is not initialised.
std::string uninitialised_cown_message(nanobind::handle o);

// For InterpreterLocal: the main interpreter's cown objects. main_cown_of
// needs the main interpreter's lock unless `o` is exactly boc.Cown (then
// it reads only the object's own fields, from any thread).
PyObject* wrap_main_cown(const SharedCownRef& c);
const SharedCownRef* main_cown_of(PyObject* o) noexcept;
PyTypeObject* main_cown_type() noexcept;

void bind_cown(nanobind::module_& m);

}  // namespace boc::python
