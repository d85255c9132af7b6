#include "worker_module.h"

#include <new>
#include <utility>
#include <vector>
#include <string>

#include "../arity.h"
#include "../interpreters.h"
#include "../portable.h"
#include "behaviour.h"

namespace boc::python {

namespace {

struct CownObject {
  PyObject_HEAD
  SharedCownRef cown;  // empty until __init__ ran
  // The interpreter this object belongs to: its dealloc may run where no
  // thread state says so (CPython clears a forked child's sub-interpreters
  // from the main one's thread).
  InterpreterLocal* home;
};

struct WhenObject {
  PyObject_HEAD
  PyObject* args;  // the checked arguments: cowns, and groups as lists
};

CownObject* as_cown(PyObject* o) { return reinterpret_cast<CownObject*>(o); }

// The cown of `self`; null with TypeError set if it was never initialised.
SharedCown* ready_cown(PyObject* self) {
  SharedCown* c = as_cown(self)->cown.get();
  if (c == nullptr) {
    PyErr_Format(PyExc_TypeError, "cannot use a %s that was never initialised", Py_TYPE(self)->tp_name);
  }
  return c;
}

// Inside a behaviour: it must hold `c`. Outside one (a value being pickled
// or unpickled here by boc): no user code may touch a value.
bool may_touch(SharedCown& c) {
  if (current_python_behaviour() == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "a cown's value can be used in a sub-interpreter only inside a behaviour");
    return false;
  }
  return check_held(c);
}

PyObject* cown_new(PyTypeObject* type, PyObject*, PyObject*) {
  PyObject* self = type->tp_alloc(type, 0);
  if (self != nullptr) {
    new (&as_cown(self)->cown) SharedCownRef();
    as_cown(self)->home = nullptr;
  }
  return self;
}

int cown_init(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char* names[] = {"value", nullptr};
  PyObject* value = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:Cown", const_cast<char**>(names), &value)) return -1;
  if (as_cown(self)->cown) {
    PyErr_SetString(PyExc_TypeError,
                    "Cown.__init__ was called on a cown that is already initialised; a cown is initialised once "
                    "(its identity and queue are fixed), so assign its value instead");
    return -1;
  }
  InterpreterLocal& here = current_local();
  as_cown(self)->cown = SharedCown::make(Py_NewRef(value), here);
  as_cown(self)->home = &here;
  here.cown_objects.emplace(as_cown(self)->cown.get(), self);
  return 0;
}

void cown_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  if (const SharedCown* c = as_cown(self)->cown.get()) {
    auto& objects = as_cown(self)->home->cown_objects;
    auto found = objects.find(c);
    if (found != objects.end() && found->second == self) objects.erase(found);
  }
  as_cown(self)->cown.~SharedCownRef();
  type->tp_free(self);
  Py_DECREF(type);  // instances of heap types own a reference to it
}

PyObject* cown_get_value(PyObject* self, void*) {
  SharedCown* c = ready_cown(self);
  if (c == nullptr || !may_touch(*c)) return nullptr;
  return c->value().get(current_local());
}

int cown_set_value(PyObject* self, PyObject* value, void*) {
  SharedCown* c = ready_cown(self);
  if (c == nullptr || !may_touch(*c)) return -1;
  if (value == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "a cown's value cannot be deleted; assign None instead");
    return -1;
  }
  if (!c->value().set(Py_NewRef(value), current_local())) return -1;
  c->set_raised(false);
  return 0;
}

PyObject* cown_get_exception(PyObject* self, void*) {
  SharedCown* c = ready_cown(self);
  if (c == nullptr || !may_touch(*c)) return nullptr;
  if (!c->raised()) Py_RETURN_NONE;
  return c->value().get(current_local());
}

PyObject* cown_get_id(PyObject* self, void*) {
  SharedCown* c = ready_cown(self);
  return c == nullptr ? nullptr : PyLong_FromUnsignedLongLong(c->id());
}

PyObject* cown_repr(PyObject* self) {
  SharedCown* c = as_cown(self)->cown.get();
  if (c == nullptr) return PyUnicode_FromFormat("<%s (never initialised)>", Py_TYPE(self)->tp_name);
  return PyUnicode_FromFormat("<%s id=%llu>", Py_TYPE(self)->tp_name, static_cast<unsigned long long>(c->id()));
}

PyObject* cown_reduce(PyObject* self, PyObject*) {
  if (ready_cown(self) == nullptr) return nullptr;
  return reduce_cown(self, as_cown(self)->cown, Py_TYPE(self) == as_cown(self)->home->cown_type);
}

PyGetSetDef cown_getset[] = {
    {"value", cown_get_value, cown_set_value, "The guarded value.", nullptr},
    {"exception", cown_get_exception, nullptr,
     "For the cown returned by ``@when``: the exception the body raised, else None.", nullptr},
    {"id", cown_get_id, nullptr, "Stable, unique identity; behaviours acquire their cowns in id order.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMethodDef cown_methods[] = {{"__reduce__", cown_reduce, METH_NOARGS, nullptr}, {nullptr, nullptr, 0, nullptr}};

PyType_Slot cown_slots[] = {{Py_tp_new, reinterpret_cast<void*>(cown_new)},
                            {Py_tp_init, reinterpret_cast<void*>(cown_init)},
                            {Py_tp_dealloc, reinterpret_cast<void*>(cown_dealloc)},
                            {Py_tp_repr, reinterpret_cast<void*>(cown_repr)},
                            {Py_tp_getset, cown_getset},
                            {Py_tp_methods, cown_methods},
                            {Py_tp_doc, const_cast<char*>("A concurrent owner, as bodies in a sub-interpreter see it.")},
                            {0, nullptr}};

PyType_Spec cown_spec = {"boc.Cown", sizeof(CownObject), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, cown_slots};

// --- when ---------------------------------------------------------------

// The arguments of when(): cowns as given, groups as new lists.
PyObject* check_when_args(PyObject* args) {
  InterpreterLocal& here = current_local();
  const Py_ssize_t n = PyTuple_GET_SIZE(args);
  PyObject* out = PyTuple_New(n);
  if (out == nullptr) return nullptr;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* a = PyTuple_GET_ITEM(args, i);
    PyObject* item = nullptr;
    if (here.unwrap(a) != nullptr) {
      item = Py_NewRef(a);
    } else if (PyList_Check(a) || PyTuple_Check(a)) {
      item = PySequence_List(a);
      for (Py_ssize_t j = 0; item != nullptr && j < PyList_GET_SIZE(item); ++j) {
        if (here.unwrap(PyList_GET_ITEM(item, j)) == nullptr) {
          PyErr_Format(PyExc_TypeError, "when() argument %zd is a group holding a %s; groups must hold only Cowns",
                       i + 1, Py_TYPE(PyList_GET_ITEM(item, j))->tp_name);
          Py_CLEAR(item);
        }
      }
    } else {
      PyErr_Format(PyExc_TypeError, "when() argument %zd is a %s; expected a Cown or a list/tuple of Cowns", i + 1,
                   Py_TYPE(a)->tp_name);
    }
    if (item == nullptr) {
      Py_DECREF(out);
      return nullptr;
    }
    PyTuple_SET_ITEM(out, i, item);
  }
  return out;
}

PyObject* when_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  if (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0) {
    PyErr_SetString(PyExc_TypeError, "when() takes cowns (or groups of cowns) as positional arguments only");
    return nullptr;
  }
  PyObject* checked = check_when_args(args);
  if (checked == nullptr) return nullptr;
  PyObject* self = type->tp_alloc(type, 0);
  if (self == nullptr) {
    Py_DECREF(checked);
    return nullptr;
  }
  reinterpret_cast<WhenObject*>(self)->args = checked;
  return self;
}

void when_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  Py_XDECREF(reinterpret_cast<WhenObject*>(self)->args);
  type->tp_free(self);
  Py_DECREF(type);
}

PyObject* when_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  if (PyTuple_GET_SIZE(args) != 1 || (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0)) {
    PyErr_SetString(PyExc_TypeError,
                    "the decorator boc.when(...) returns takes one argument, the function to schedule");
    return nullptr;
  }
  Run* run = current_sub_run();
  if (run == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "boc.when() can be used in a sub-interpreter only inside a behaviour");
    return nullptr;
  }
  PyObject* call_args = reinterpret_cast<WhenObject*>(self)->args;
  PyObject* fn = PyTuple_GET_ITEM(args, 0);
  if (!check_arity(fn, PyTuple_GET_SIZE(call_args))) return nullptr;
  return schedule_in_subinterpreter(*run, current_local(), call_args, fn);
}

PyType_Slot when_slots[] = {{Py_tp_new, reinterpret_cast<void*>(when_new)},
                            {Py_tp_dealloc, reinterpret_cast<void*>(when_dealloc)},
                            {Py_tp_call, reinterpret_cast<void*>(when_call)},
                            {0, nullptr}};

PyType_Spec when_spec = {"boc._core.When", sizeof(WhenObject), 0, Py_TPFLAGS_DEFAULT, when_slots};

// --- module functions ---------------------------------------------------

// _cown_from_token(index, cls, attributes): this interpreter's object for
// the cown, or for an instance of a subclass an instance of that class
// (reused while it is this interpreter's object for the cown) with the
// attributes it had where it was sent from.
PyObject* cown_from_token_fn(PyObject*, PyObject* args) {
  Py_ssize_t index;
  PyObject *cls, *attributes;
  if (!PyArg_ParseTuple(args, "nOO", &index, &cls, &attributes)) return nullptr;
  const SharedCownRef* c = cown_from_token(index);
  if (c == nullptr) return nullptr;
  InterpreterLocal& here = current_local();
  if (cls == Py_None) return here.wrap(*c);
  PyObject* made = nullptr;
  auto found = here.cown_objects.find(c->get());
  if (found != here.cown_objects.end() && reinterpret_cast<PyObject*>(Py_TYPE(found->second)) == cls) {
    made = Py_NewRef(found->second);
  } else {
    if (!PyType_Check(cls) || !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(cls), here.cown_type)) {
      PyErr_SetString(PyExc_TypeError, "a cown can be rebuilt only as an instance of a boc.Cown subclass");
      return nullptr;
    }
    made = PyObject_CallMethod(cls, "__new__", "O", cls);
    if (made == nullptr) return nullptr;
    if (!PyObject_TypeCheck(made, here.cown_type) || as_cown(made)->cown) {
      PyErr_Format(PyExc_TypeError, "%s.__new__ did not make a new boc.Cown", reinterpret_cast<PyTypeObject*>(cls)->tp_name);
      Py_DECREF(made);
      return nullptr;
    }
    as_cown(made)->cown = *c;
    as_cown(made)->home = &here;
    here.cown_objects[c->get()] = made;
  }
  if (attributes != Py_None) {
    PyObject* dict = PyObject_GenericGetDict(made, nullptr);
    const int rc = dict != nullptr ? PyDict_Update(dict, attributes) : -1;
    Py_XDECREF(dict);
    if (rc != 0) {
      Py_DECREF(made);
      return nullptr;
    }
  }
  return made;
}

// _main_attribute(name): __main__.<name> of the main interpreter, pickled
// there by value (boc._transport.export_main_attribute) and unpickled here,
// for the stand-in __main__ of this one (AttributeError if there is none,
// TypeError if it does not pickle). Cowns it refers to come along.
PyObject* main_attribute_fn(PyObject*, PyObject* name) {
  const char* utf8 = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : nullptr;
  if (utf8 == nullptr) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "_main_attribute takes a name");
    return nullptr;
  }
  const std::string wanted = utf8;
  std::string data, failure;
  std::vector<SharedCownRef> cowns;
  PyObject* kind = PyExc_TypeError;
  {
    InterpreterLocal& main = main_local();
    Visit visit(main);
    PyObject* exporter = main.transport("export_main_attribute");
    PyObject* arg = exporter != nullptr ? PyUnicode_FromString(wanted.c_str()) : nullptr;
    std::vector<SharedCownRef>* outer = std::exchange(cowns_being_pickled(), &cowns);
    PyObject* exported = arg != nullptr ? PyObject_CallOneArg(exporter, arg) : nullptr;
    cowns_being_pickled() = outer;
    Py_XDECREF(arg);
    if (exported != nullptr && PyBytes_Check(exported)) {
      data.assign(PyBytes_AS_STRING(exported), static_cast<std::size_t>(PyBytes_GET_SIZE(exported)));
    } else {
      if (exported == nullptr && PyErr_ExceptionMatches(PyExc_AttributeError)) kind = PyExc_AttributeError;
      failure = exported == nullptr ? take_error_text() : "the exporter returned something other than bytes";
    }
    Py_XDECREF(exported);
  }
  if (!failure.empty()) {
    PyErr_SetString(kind, failure.c_str());
    return nullptr;
  }
  InterpreterLocal& here = current_local();
  PyObject* loads = here.transport("loads");
  PyObject* bytes = loads != nullptr ? PyBytes_FromStringAndSize(data.data(), static_cast<Py_ssize_t>(data.size()))
                                     : nullptr;
  if (bytes == nullptr) return nullptr;
  const std::vector<SharedCownRef>* outer = std::exchange(cowns_being_unpickled(), &cowns);
  PyObject* value = PyObject_CallOneArg(loads, bytes);
  cowns_being_unpickled() = outer;
  Py_DECREF(bytes);
  return value;
}

// What only the main interpreter does. Inside a behaviour, the functions
// that wait say so as they do under executor="threads".
PyObject* refuse(const char* what, bool waits) {
  if (waits && current_python_behaviour() != nullptr) {
    PyErr_Format(PyExc_RuntimeError, "%s cannot be called from inside a behaviour (it would wait for itself)", what);
  } else {
    PyErr_Format(PyExc_RuntimeError,
                 "boc.%s can be called only from the main interpreter, not from one of the sub-interpreters that "
                 "run behaviours",
                 what);
  }
  return nullptr;
}
PyObject* refuse_start(PyObject*, PyObject*, PyObject*) { return refuse("start()", true); }
PyObject* refuse_quiesce(PyObject*, PyObject*, PyObject*) { return refuse("quiesce()", true); }
PyObject* refuse_wait(PyObject*, PyObject*, PyObject*) { return refuse("wait()", true); }
PyObject* refuse_stats(PyObject*, PyObject*, PyObject*) { return refuse("stats()", false); }

PyObject* stored(PyObject* module, const char* name) {
  PyObject* o = PyObject_GetAttrString(module, name);
  if (o == nullptr) return nullptr;
  PyObject* copy = PyDict_Copy(o);  // the caller may change its dict
  Py_DECREF(o);
  return copy;
}
PyObject* schedulers_fn(PyObject* module, PyObject*) { return stored(module, "_schedulers"); }
PyObject* executors_fn(PyObject* module, PyObject*) { return stored(module, "_executors"); }
PyObject* unavailable_executors_fn(PyObject* module, PyObject*) { return stored(module, "_unavailable_executors"); }

PyObject* no(PyObject*, PyObject*, PyObject*) { Py_RETURN_FALSE; }
PyObject* nothing(PyObject*, PyObject*, PyObject*) { Py_RETURN_NONE; }

#define BOC_ANY_ARGS(f) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f)), METH_VARARGS | METH_KEYWORDS
PyMethodDef module_functions[] = {
    {"_cown_from_token", cown_from_token_fn, METH_VARARGS, nullptr},
    {"_main_attribute", main_attribute_fn, METH_O, nullptr},
    {"schedulers", schedulers_fn, METH_NOARGS, nullptr},
    {"executors", executors_fn, METH_NOARGS, nullptr},
    {"unavailable_executors", unavailable_executors_fn, METH_NOARGS, nullptr},
    {"start", BOC_ANY_ARGS(refuse_start), nullptr},
    {"stop", BOC_ANY_ARGS(refuse_wait), nullptr},
    {"quiesce", BOC_ANY_ARGS(refuse_quiesce), nullptr},
    {"resolve_options", BOC_ANY_ARGS(refuse_start), nullptr},
    {"stats", BOC_ANY_ARGS(refuse_stats), nullptr},
    {"in_flight", BOC_ANY_ARGS(refuse_stats), nullptr},
    {"begin_exit", BOC_ANY_ARGS(no), nullptr},
    {"abandon_at_exit", BOC_ANY_ARGS(nothing), nullptr},
    {"forget_last", BOC_ANY_ARGS(nothing), nullptr},
    {"after_fork_in_child", BOC_ANY_ARGS(nothing), nullptr},
    {"close_interpreters", BOC_ANY_ARGS(nothing), nullptr},
    {nullptr, nullptr, 0, nullptr}};
#undef BOC_ANY_ARGS

}  // namespace

PyObject* wrap_worker_cown(InterpreterLocal& here, const SharedCownRef& c) {
  auto found = here.cown_objects.find(c.get());
  if (found != here.cown_objects.end()) return Py_NewRef(found->second);
  PyObject* self = cown_new(here.cown_type, nullptr, nullptr);
  if (self == nullptr) return nullptr;
  as_cown(self)->cown = c;
  as_cown(self)->home = &here;
  here.cown_objects.emplace(c.get(), self);
  return self;
}

const SharedCownRef* worker_cown_of(PyTypeObject* type, PyObject* o) noexcept {
  // Subclass instances made in this interpreter count; reading the type's
  // base chain is safe from any thread (types are not changed once made).
  if (Py_TYPE(o) != type && !PyType_IsSubtype(Py_TYPE(o), type)) return nullptr;
  const SharedCownRef& c = as_cown(o)->cown;
  return c ? &c : nullptr;
}

bool install_worker_module(InterpreterLocal& local, PyObject* schedulers, PyObject* executors,
                           PyObject* unavailable_executors) {
  PyObject* module = PyModule_New("boc._core");
  if (module == nullptr) return false;
  auto fail = [&] {
    Py_DECREF(module);
    return false;
  };
  if (PyModule_AddFunctions(module, module_functions) != 0) return fail();
  PyObject* cown_type = PyType_FromSpec(&cown_spec);
  if (cown_type == nullptr || PyModule_AddObject(module, "Cown", cown_type) != 0) return fail();
  PyObject* when_type = PyType_FromSpec(&when_spec);
  if (when_type == nullptr || PyModule_AddObject(module, "When", when_type) != 0) return fail();
  PyObject* generic = PyRun_String(
      "classmethod(__import__('types').GenericAlias)", Py_eval_input, PyEval_GetBuiltins(), PyEval_GetBuiltins());
  if (generic == nullptr || PyObject_SetAttrString(cown_type, "__class_getitem__", generic) != 0) {
    Py_XDECREF(generic);
    return fail();
  }
  Py_DECREF(generic);
  if (PyModule_AddObjectRef(module, "_schedulers", schedulers) != 0 ||
      PyModule_AddObjectRef(module, "_executors", executors) != 0 ||
      PyModule_AddObjectRef(module, "_unavailable_executors", unavailable_executors) != 0 ||
      PyModule_AddObjectRef(module, "in_worker", Py_True) != 0) {
    return fail();
  }
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  if (PyDict_SetItemString(modules, "boc._core", module) != 0) return fail();
  local.module = module;
  local.cown_type = reinterpret_cast<PyTypeObject*>(cown_type);
  return true;
}

}  // namespace boc::python
