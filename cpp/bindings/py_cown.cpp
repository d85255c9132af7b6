#include "py_cown.h"

#include <nanobind/stl/string.h>

#include <string>

#include "session.h"

namespace nb = nanobind;

namespace boc::python {

const Behaviour*& current_python_behaviour() {
  thread_local const Behaviour* current = nullptr;
  return current;
}

namespace {

// Raises RuntimeError unless the calling thread may touch `c`'s value now.
void check_access(const PyCown& c) {
  if (const Behaviour* b = current_python_behaviour()) {
    if (!b->holds(c.core.get())) {
      raise_runtime_error("this behaviour does not hold that cown: only cowns passed "
                                  "to its @when can be used inside it");
    }
    return;
  }
  const Session& s = session();
  if (s.runtime && s.runtime->in_flight() > 0) {
    raise_runtime_error("a cown's value can be used outside a behaviour only while no "
                                "behaviour is in flight (before start(), or after quiesce() or "
                                "wait()); use it inside a @when that lists the cown");
  }
}

int cown_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  if (!nb::inst_ready(self)) return 0;
  PyCown* c = nb::inst_ptr<PyCown>(self);
  Py_VISIT(c->value.ptr());
  Py_VISIT(c->exception.ptr());
  return 0;
}

int cown_clear(PyObject* self) {
  PyCown* c = nb::inst_ptr<PyCown>(self);
  c->value.reset();
  c->exception.reset();
  return 0;
}

PyType_Slot cown_slots[] = {{Py_tp_traverse, reinterpret_cast<void*>(cown_traverse)},
                            {Py_tp_clear, reinterpret_cast<void*>(cown_clear)},
                            {0, nullptr}};

}  // namespace

void bind_cown(nb::module_& m) {
  nb::class_<PyCown>(m, "Cown", nb::type_slots(cown_slots),
                     "A concurrent owner: a value that at most one behaviour uses at a time.\n\n"
                     "Read and assign ``value`` inside a behaviour that lists this cown in its\n"
                     "``@when``, or outside behaviours while none is in flight.")
      .def(nb::init<nb::object>(), nb::arg("value") = nb::none(), "Wraps ``value`` in a new cown.")
      .def_prop_rw(
          "value",
          [](const PyCown& c) {
            check_access(c);
            return c.value;
          },
          [](PyCown& c, nb::object v) {
            check_access(c);
            c.value = std::move(v);
          },
          nb::for_setter(nb::arg("value").none()), "The guarded value.")
      .def_prop_ro(
          "exception",
          [](const PyCown& c) {
            check_access(c);
            return c.exception ? c.exception : nb::none();
          },
          "For the cown returned by ``@when``: the exception the body raised, else None.")
      .def_prop_ro(
          "id", [](const PyCown& c) { return c.core->id(); },
          "Stable, unique identity; behaviours acquire their cowns in id order.")
      .def("__repr__", [](const PyCown& c) { return "<boc.Cown id=" + std::to_string(c.core->id()) + ">"; });
}

}  // namespace boc::python
