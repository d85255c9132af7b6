#include "py_cown.h"

#include <nanobind/stl/string.h>

#include <new>
#include <string>

#include "errors.h"
#include "session.h"

namespace nb = nanobind;

namespace boc::python {

const Behaviour*& current_python_behaviour() {
  thread_local const Behaviour* current = nullptr;
  return current;
}

bool is_initialised_cown(nb::handle o) { return nb::isinstance<PyCown>(o) && nb::inst_ready(o); }

namespace {
// "boc.Cown" for the class itself (not its module's private name), the
// qualified name for a subclass.
std::string display_name(nb::handle o) {
  if (o.type().is(nb::type<PyCown>())) return "boc.Cown";
  return nb::type_name(o.type()).c_str();
}

// The cown `self` holds; TypeError for an instance that was never initialised.
PyCown& cown_of(nb::handle self) {
  if (!nb::inst_ready(self)) raise_type_error("cannot use " + uninitialised_cown_message(self));
  return *nb::inst_ptr<PyCown>(self);
}
}  // namespace

std::string uninitialised_cown_message(nb::handle o) {
  const std::string type = display_name(o);
  if (o.type().is(nb::type<PyCown>())) {
    return "a " + type + " that was never initialised (made by Cown.__new__ without Cown.__init__)";
  }
  return "a " + type + " that was never initialised: " + type +
         ".__init__ must call super().__init__(value), which is boc.Cown.__init__";
}

namespace {

// Raises RuntimeError unless the calling thread may touch `c`'s value now.
void check_access(const PyCown& c) {
  if (const Behaviour* b = current_python_behaviour()) {
    if (!b->holds(c.core.get())) {
      raise_runtime_error(
          "this behaviour does not hold that cown: only cowns passed to its @when can be used inside it");
    }
    return;
  }
  std::shared_ptr<Run> run = session().current();
  if (run && run->runtime().in_flight() > 0) {
    raise_runtime_error(
        "a cown's value can be used outside a behaviour only while no behaviour is in flight (before "
        "start(), or after quiesce() or wait()); use it inside a @when that lists the cown");
  }
}

void init(nb::handle self, nb::object value) {
  if (!nb::isinstance<PyCown>(self)) {
    raise_type_error(std::string("Cown.__init__ needs a boc.Cown to initialise, got ") +
                     nb::type_name(self.type()).c_str());
  }
  if (nb::inst_ready(self)) {
    raise_type_error(
        "Cown.__init__ was called on a cown that is already initialised; a cown is initialised once (its "
        "identity and queue are fixed), so assign its value instead");
  }
  new (nb::inst_ptr<PyCown>(self)) PyCown(std::move(value));
  nb::inst_mark_ready(self);
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
  if (!nb::inst_ready(self)) return 0;
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
  nb::class_<PyCown> cls(m, "Cown", nb::type_slots(cown_slots),
                         "A concurrent owner: a value that at most one behaviour uses at a time.\n\n"
                         "Read and assign ``value`` inside a behaviour that lists this cown in its\n"
                         "``@when``, or outside behaviours while none is in flight. ``Cown[T]``\n"
                         "is a generic alias for type hints.");
  cls.def("__init__", &init, nb::arg("value") = nb::none(), "Wraps ``value`` in a new cown.")
      .def_prop_rw(
          "value",
          [](nb::handle self) {
            PyCown& c = cown_of(self);
            check_access(c);
            return c.value;
          },
          [](nb::handle self, nb::object v) {
            PyCown& c = cown_of(self);
            check_access(c);
            c.value = std::move(v);
          },
          nb::for_setter(nb::arg("value").none()), "The guarded value.")
      .def_prop_ro(
          "exception",
          [](nb::handle self) {
            PyCown& c = cown_of(self);
            check_access(c);
            return c.exception.is_valid() ? c.exception : nb::none();
          },
          "For the cown returned by ``@when``: the exception the body raised, else None.")
      .def_prop_ro(
          "id", [](nb::handle self) { return cown_of(self).core->id(); },
          "Stable, unique identity; behaviours acquire their cowns in id order.")
      .def("__repr__", [](nb::handle self) {
        const std::string type = display_name(self);
        if (!nb::inst_ready(self)) return "<" + type + " (never initialised)>";
        return "<" + type + " id=" + std::to_string(nb::inst_ptr<PyCown>(self)->core->id()) + ">";
      });
  // Cown[int] in type hints, as for the standard containers.
  cls.attr("__class_getitem__") =
      nb::module_::import_("builtins").attr("classmethod")(nb::module_::import_("types").attr("GenericAlias"));
}

}  // namespace boc::python
