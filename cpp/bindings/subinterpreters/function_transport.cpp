#include "function_transport.h"

#include "../raised.h"

#include <utility>

namespace boc::python {

namespace {

// Past this many entries, a cache drops those nothing else uses: bodies made
// at run time with code objects of their own (eval, exec) would otherwise
// fill it for ever.
constexpr std::size_t cache_limit = 1024;

void prune_made(InterpreterLocal& here) {
  if (here.made.size() < cache_limit) return;
  for (auto it = here.made.begin(); it != here.made.end();) {
    if (Py_REFCNT(it->first) == 1) {  // only this cache holds the code
      Py_DECREF(it->first);
      it = here.made.erase(it);
    } else {
      ++it;
    }
  }
}

void prune_loaded(InterpreterLocal& here) {
  if (here.loaded.size() < cache_limit) return;
  for (auto it = here.loaded.begin(); it != here.loaded.end();) {
    // Only this cache holds the recipe: no behaviour that waits brings it.
    if (it->second.recipe.use_count() == 1) {
      Py_XDECREF(it->second.code);
      Py_XDECREF(it->second.globals);
      Py_XDECREF(it->second.plain);
      it = here.loaded.erase(it);
    } else {
      ++it;
    }
  }
}

std::string bytes_of(PyObject* b) { return std::string(PyBytes_AS_STRING(b), static_cast<std::size_t>(PyBytes_GET_SIZE(b))); }

// The recipe for plain function `fn`, made on first use of its code here.
RecipeRef recipe_for(PyObject* fn, InterpreterLocal& here) {
  PyObject* code = PyFunction_GET_CODE(fn);
  PyObject* globals = PyFunction_GET_GLOBALS(fn);
  auto found = here.made.find(code);
  if (found != here.made.end() && found->second.globals == globals) return found->second.recipe;

  PyObject* make = here.transport("recipe");
  if (make == nullptr) return nullptr;
  auto recipe = std::make_shared<Recipe>();
  std::vector<SharedCownRef>* outer = std::exchange(cowns_being_pickled(), &recipe->cowns);
  PyObject* made = PyObject_CallOneArg(make, fn);
  cowns_being_pickled() = outer;
  if (made == nullptr) return nullptr;
  PyObject *module, *marshalled, *value;
  if (!PyArg_ParseTuple(made, "OOO", &module, &marshalled, &value)) {
    Py_DECREF(made);
    return nullptr;
  }
  if (module != Py_None) {
    const char* name = PyUnicode_AsUTF8(module);
    if (name == nullptr) {
      Py_DECREF(made);
      return nullptr;
    }
    recipe->module = name;
  }
  recipe->code = bytes_of(marshalled);
  if (value != Py_None) recipe->value = bytes_of(value);
  Py_DECREF(made);

  if (found != here.made.end()) {
    found->second = {globals, recipe};
  } else {
    prune_made(here);
    here.made.emplace(Py_NewRef(code), InterpreterLocal::Made{globals, recipe});
  }
  return recipe;
}

// (cell values, defaults, kwdefaults, mask of empty cells), or null (and
// no error) when `fn` captures nothing.
PyObject* captures_of(PyObject* fn) {
  PyObject* closure = PyFunction_GET_CLOSURE(fn);
  PyObject* defaults = PyFunction_GET_DEFAULTS(fn);
  PyObject* kwdefaults = PyFunction_GET_KW_DEFAULTS(fn);
  if (closure == nullptr && defaults == nullptr && kwdefaults == nullptr) return nullptr;
  const Py_ssize_t n = closure != nullptr ? PyTuple_GET_SIZE(closure) : 0;
  PyObject* cells = PyTuple_New(n);
  if (cells == nullptr) return nullptr;
  unsigned long long empty = 0;  // a body with more than 64 free variables has none empty, or pickles
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* held = PyCell_GET(PyTuple_GET_ITEM(closure, i));
    if (held == nullptr) {
      if (i < 64) empty |= 1ULL << i;
      held = Py_None;
    }
    PyTuple_SET_ITEM(cells, i, Py_NewRef(held));
  }
  return Py_BuildValue("(NOOK)", cells, defaults ? defaults : Py_None, kwdefaults ? kwdefaults : Py_None, empty);
}

// Portable::copy, else pickled; TypeError naming `fn` if it does not pickle.
std::optional<Portable> carry(PyObject* o, PyObject* fn, InterpreterLocal& here) {
  if (std::optional<Portable> copied = Portable::copy(o)) return copied;
  if (std::optional<Portable> pickled = Portable::pickle(o, here)) return pickled;
  PyObject* error = take_raised_exception();
  PyObject* words = here.transport("captures_error");
  if (words != nullptr) {
    PyObject* better = PyObject_CallFunctionObjArgs(words, fn, error, nullptr);
    if (better != nullptr) {
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(better)), better);
      Py_DECREF(better);
    }
  }
  Py_DECREF(error);
  return std::nullopt;
}

}  // namespace

std::optional<TravellingBody> travelling_body(PyObject* fn, InterpreterLocal& here) {
  TravellingBody body;
  if (!PyFunction_Check(fn)) {
    // Any other callable (a bound method, a callable object) travels whole,
    // with each behaviour.
    body.captures = carry(fn, fn, here);
    if (!body.captures) return std::nullopt;
    return body;
  }
  body.recipe = recipe_for(fn, here);
  if (!body.recipe) return std::nullopt;
  if (PyObject* captures = captures_of(fn)) {
    body.captures = carry(captures, fn, here);
    Py_DECREF(captures);
    if (!body.captures) return std::nullopt;
  } else if (PyErr_Occurred()) {
    return std::nullopt;
  }
  return body;
}

namespace {

const InterpreterLocal::Loaded* load(const RecipeRef& recipe, InterpreterLocal& here) {
  auto found = here.loaded.find(recipe.get());
  if (found != here.loaded.end()) return &found->second;
  PyObject* load_fn = here.transport("load");
  if (load_fn == nullptr) return nullptr;
  PyObject* module = recipe->module ? PyUnicode_FromString(recipe->module->c_str()) : Py_NewRef(Py_None);
  PyObject* code = PyBytes_FromStringAndSize(recipe->code.data(), static_cast<Py_ssize_t>(recipe->code.size()));
  PyObject* value = recipe->value ? PyBytes_FromStringAndSize(recipe->value->data(),
                                                              static_cast<Py_ssize_t>(recipe->value->size()))
                                  : Py_NewRef(Py_None);
  PyObject* loaded = nullptr;
  if (module != nullptr && code != nullptr && value != nullptr) {
    const std::vector<SharedCownRef>* outer = std::exchange(cowns_being_unpickled(), &recipe->cowns);
    loaded = PyObject_CallFunctionObjArgs(load_fn, module, code, value, nullptr);
    cowns_being_unpickled() = outer;
  }
  Py_XDECREF(module);
  Py_XDECREF(code);
  Py_XDECREF(value);
  if (loaded == nullptr) return nullptr;
  PyObject *loaded_code, *globals;
  if (!PyArg_ParseTuple(loaded, "O!O!", &PyCode_Type, &loaded_code, &PyDict_Type, &globals)) {
    Py_DECREF(loaded);
    return nullptr;
  }
  InterpreterLocal::Loaded entry{recipe, Py_NewRef(loaded_code), Py_NewRef(globals), nullptr};
  Py_DECREF(loaded);
  prune_loaded(here);
  return &here.loaded.emplace(recipe.get(), entry).first->second;
}

// A new cell per free variable, empty where it was empty when scheduled.
PyObject* cells_of(PyObject* values, unsigned long long empty) {
  const Py_ssize_t n = PyTuple_GET_SIZE(values);
  PyObject* cells = PyTuple_New(n);
  if (cells == nullptr) return nullptr;
  for (Py_ssize_t i = 0; i < n; ++i) {
    const bool is_empty = i < 64 && (empty >> i & 1ULL);
    PyObject* cell = PyCell_New(is_empty ? nullptr : PyTuple_GET_ITEM(values, i));
    if (cell == nullptr) {
      Py_DECREF(cells);
      return nullptr;
    }
    PyTuple_SET_ITEM(cells, i, cell);
  }
  return cells;
}

}  // namespace

PyObject* arrive(const TravellingBody& body, InterpreterLocal& here) {
  if (!body.recipe) return body.captures->make(here);
  const InterpreterLocal::Loaded* l = load(body.recipe, here);
  if (l == nullptr) return nullptr;
  if (!body.captures) {
    auto* entry = const_cast<InterpreterLocal::Loaded*>(l);
    if (entry->plain == nullptr) entry->plain = PyFunction_New(entry->code, entry->globals);
    return entry->plain != nullptr ? Py_NewRef(entry->plain) : nullptr;
  }
  PyObject* captures = body.captures->make(here);
  if (captures == nullptr) return nullptr;
  PyObject *values, *defaults, *kwdefaults;
  unsigned long long empty = 0;
  PyObject* fn = nullptr;
  if (PyArg_ParseTuple(captures, "O!OOK", &PyTuple_Type, &values, &defaults, &kwdefaults, &empty)) {
    fn = PyFunction_New(l->code, l->globals);
    PyObject* cells = fn != nullptr && PyTuple_GET_SIZE(values) > 0 ? cells_of(values, empty) : nullptr;
    const bool ok = fn != nullptr && (PyTuple_GET_SIZE(values) == 0 || (cells != nullptr && PyFunction_SetClosure(fn, cells) == 0)) &&
                    PyFunction_SetDefaults(fn, defaults) == 0 && PyFunction_SetKwDefaults(fn, kwdefaults) == 0;
    Py_XDECREF(cells);
    if (!ok) Py_CLEAR(fn);
  }
  Py_DECREF(captures);
  return fn;
}

}  // namespace boc::python
