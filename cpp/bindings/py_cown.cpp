#include "py_cown.h"

#include <nanobind/stl/string.h>
#include <nanobind/typing.h>

#include <new>
#include <string>

#include "errors.h"
#include "interpreters.h"
#include "outside_use.h"
#include "portable.h"
#include "session.h"

namespace nb = nanobind;

namespace boc::python {

const Behaviour*& current_python_behaviour() {
  thread_local const Behaviour* current = nullptr;
  return current;
}

bool check_held(const SharedCown& c) {
  if (current_python_behaviour()->holds(c.core())) return true;
  PyErr_SetString(PyExc_RuntimeError,
                  "this behaviour does not hold that cown: only cowns passed to its @when can be used inside it");
  return false;
}

namespace {
PyTypeObject* cown_type = nullptr;
}  // namespace

PyCown::~PyCown() {
  if (state && state->main_object != nullptr && nb::inst_ptr<PyCown>(state->main_object) == this) {
    state->main_object = nullptr;
  }
}

PyObject* wrap_main_cown(const SharedCownRef& c) {
  if (c->main_object != nullptr) return Py_NewRef(c->main_object);
  PyObject* o = nb::cast(PyCown(c)).release().ptr();
  c->main_object = o;
  return o;
}

const SharedCownRef* main_cown_of(PyObject* o) noexcept {
  if (Py_TYPE(o) != cown_type && !nb::isinstance<PyCown>(o)) return nullptr;
  if (!nb::inst_ready(o)) return nullptr;
  return &nb::inst_ptr<PyCown>(o)->state;
}

PyTypeObject* main_cown_type() noexcept { return cown_type; }

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

// RuntimeError unless no behaviour is in flight: the condition for using a
// value outside behaviours.
void check_none_in_flight() {
  std::shared_ptr<Run> run = session().current();
  if (run && run->runtime().in_flight() > 0) {
    raise_runtime_error(
        "a cown's value can be used outside a behaviour only while no behaviour is in flight (before "
        "start(), or after quiesce() or wait()); use it inside a @when that lists the cown");
  }
}

// use(), once the calling thread may use `c`'s value (RuntimeError if it
// may not): inside a behaviour that holds `c`, or outside behaviours while
// none is in flight, taking turns with other such uses if the value has to
// move (outside_use.h).
template <typename Use>
auto with_access(PyCown& c, Use&& use) {
  if (current_python_behaviour() != nullptr) {
    if (!check_held(*c.state)) throw nb::python_error();
    return use();
  }
#ifndef Py_GIL_DISABLED
  // The interpreter lock makes a read or an assignment of a value that is
  // already here one step, against other outside threads too.
  check_none_in_flight();
  if (c.state->value().lives_in(main_local())) return use();
#endif
  // Without that lock, two outside threads could free the value one of them
  // is reading; the turn orders them, and holds back outside scheduling, so
  // the check below stays true until use() returns.
  OutsideUse turn;
  check_none_in_flight();
  return use();
}

void init(nb::handle self, nb::object value) {
  if (!nb::isinstance<PyCown>(self)) {
    raise_type_error(std::string("Cown.__init__ needs a boc.Cown to initialise, got ") +
                     nb::type_name(self.type()).c_str());
  }
  // Two threads initialising one object must not both get past the check
  // (the interpreter lock makes it one step; without it, this guard does).
  nb::ft_object_guard guard(self);
  if (nb::inst_ready(self)) {
    raise_type_error(
        "Cown.__init__ was called on a cown that is already initialised; a cown is initialised once (its "
        "identity and queue are fixed), so assign its value instead");
  }
  PyCown* c = new (nb::inst_ptr<PyCown>(self)) PyCown(SharedCown::make(value.release().ptr(), main_local()));
  c->state->main_object = self.ptr();
  nb::inst_mark_ready(self);
}

// The value is this object's to report to the collector only while no
// behaviour or other interpreter shares its cown (then this object is the
// value's one owner, through the slot); otherwise a cycle through it is
// not collected, which is safe.
PyObject* owned_value(PyObject* self) {
  if (!nb::inst_ready(self)) return nullptr;
  const SharedCownRef& s = nb::inst_ptr<PyCown>(self)->state;
  return s->references() == 1 ? s->value().object_in(main_local()) : nullptr;
}

int cown_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(owned_value(self));
  return 0;
}

int cown_clear(PyObject* self) {
  if (owned_value(self) != nullptr && !nb::inst_ptr<PyCown>(self)->state->value().set(Py_NewRef(Py_None), main_local())) {
    PyErr_Clear();  // being moved: the move lets go of it
  }
  return 0;
}

// The value as an object of this interpreter, moved here if need be.
nb::object value_of(PyCown& c) {
  PyObject* v = c.state->value().get(main_local());
  if (v == nullptr) throw nb::python_error();
  return nb::steal(v);
}

PyType_Slot cown_slots[] = {{Py_tp_traverse, reinterpret_cast<void*>(cown_traverse)},
                            {Py_tp_clear, reinterpret_cast<void*>(cown_clear)},
                            {0, nullptr}};

}  // namespace

void bind_cown(nb::module_& m) {
  // The stub (_core.pyi) declares Cown generic in the type of its value, so
  // that a type checker reads Cown[int].value as an int.
  m.attr("T") = nb::type_var("T");
  nb::class_<PyCown> cls(m, "Cown", nb::type_slots(cown_slots), nb::sig("class Cown(typing.Generic[T])"),
                         "A concurrent owner: a value that at most one behaviour uses at a time.\n\n"
                         "Read and assign ``value`` inside a behaviour that lists this cown in its\n"
                         "``@when``, or outside behaviours while none is in flight. ``Cown[T]``\n"
                         "is a generic alias for type hints.");
  cls.def("__init__", &init, nb::arg("value") = nb::none(), nb::sig("def __init__(self, value: T = ...) -> None"),
          "Wraps ``value`` in a new cown.")
      .def_prop_rw(
          "value",
          [](nb::handle self) {
            PyCown& c = cown_of(self);
            return with_access(c, [&] { return value_of(c); });
          },
          [](nb::handle self, nb::object v) {
            PyCown& c = cown_of(self);
            with_access(c, [&] {
              if (!c.state->value().set(v.release().ptr(), main_local())) throw nb::python_error();
              c.state->set_raised(false);
            });
          },
          nb::for_getter(nb::sig("def value(self, /) -> T")),
          nb::for_setter(nb::sig("def value(self, value: T, /) -> None")), nb::for_setter(nb::arg("value").none()),
          "The guarded value.")
      .def_prop_ro(
          "exception",
          [](nb::handle self) {
            PyCown& c = cown_of(self);
            return with_access(c, [&] { return c.state->raised() ? value_of(c) : nb::none(); });
          },
          nb::for_getter(nb::sig("def exception(self, /) -> BaseException | None")),
          "For the cown returned by ``@when``: the exception the body raised, else None.")
      .def_prop_ro(
          "id", [](nb::handle self) { return cown_of(self).state->id(); },
          "Stable, unique identity; behaviours acquire their cowns in id order.")
      .def("__repr__", [](nb::handle self) {
        const std::string type = display_name(self);
        if (!nb::inst_ready(self)) return "<" + type + " (never initialised)>";
        return "<" + type + " id=" + std::to_string(nb::inst_ptr<PyCown>(self)->state->id()) + ">";
      });
  cls.def("__reduce__", [](nb::handle self) {
    PyObject* r = reduce_cown(self.ptr(), cown_of(self).state, self.type().is(nb::type<PyCown>()));
    if (r == nullptr) throw nb::python_error();
    return nb::steal(r);
  }, nb::sig("def __reduce__(self) -> tuple[typing.Any, ...]"));
  m.def(
      "_cown_from_token",
      [](Py_ssize_t index, nb::handle cls, nb::handle attributes) {
        const SharedCownRef* c = cown_from_token(index);
        if (c == nullptr) throw nb::python_error();
        // The object this interpreter has for the cown is the cown, with
        // its own attributes; one of a subclass made in a sub-interpreter
        // arrives as a new instance of its class.
        if (cls.is_none() || (*c)->main_object != nullptr) return nb::steal(wrap_main_cown(*c));
        if (!PyType_Check(cls.ptr()) || !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(cls.ptr()), cown_type)) {
          raise_type_error("a cown can be rebuilt only as an instance of a boc.Cown subclass");
        }
        nb::object made = cls.attr("__new__")(cls);
        if (!nb::isinstance<PyCown>(made) || nb::inst_ready(made)) {
          raise_type_error(std::string(nb::type_name(cls).c_str()) + ".__new__ did not make a new boc.Cown");
        }
        new (nb::inst_ptr<PyCown>(made)) PyCown(*c);
        nb::inst_mark_ready(made);
        (*c)->main_object = made.ptr();
        if (!attributes.is_none()) made.attr("__dict__").attr("update")(attributes);
        return made;
      },
      nb::arg("index"), nb::arg("cls").none(), nb::arg("attributes").none());
  cown_type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  // Cown[int] in type hints, as for the standard containers.
  cls.attr("__class_getitem__") =
      nb::module_::import_("builtins").attr("classmethod")(nb::module_::import_("types").attr("GenericAlias"));
}

}  // namespace boc::python
