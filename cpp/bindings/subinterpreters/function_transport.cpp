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
      Py_XDECREF(it->second.spare);
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

// (cell values, defaults, kwdefaults, mask of empty cells): what `fn`
// captures, as one tuple to pickle.
PyObject* captures_tuple(PyObject* fn) {
  PyObject* closure = PyFunction_GET_CLOSURE(fn);
  PyObject* defaults = PyFunction_GET_DEFAULTS(fn);
  PyObject* kwdefaults = PyFunction_GET_KW_DEFAULTS(fn);
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

// Each captured value copied on its own, if every one can be.
std::optional<Captures> copied_captures(PyObject* fn) {
  if (PyFunction_GET_KW_DEFAULTS(fn) != nullptr) return std::nullopt;  // a dict: pickled
  Captures out;
  if (PyObject* closure = PyFunction_GET_CLOSURE(fn)) {
    out.cells.reserve(static_cast<std::size_t>(PyTuple_GET_SIZE(closure)));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(closure); ++i) {
      PyObject* held = PyCell_GET(PyTuple_GET_ITEM(closure, i));
      if (held == nullptr) {
        out.cells.emplace_back();
        continue;
      }
      std::optional<Portable> copy = Portable::copy(held);
      if (!copy) return std::nullopt;
      out.cells.emplace_back(std::move(copy));
    }
  }
  if (PyObject* defaults = PyFunction_GET_DEFAULTS(fn)) {
    out.defaults = Portable::copy(defaults);
    if (!out.defaults) return std::nullopt;
  }
  return out;
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
    body.callable = carry(fn, fn, here);
    if (!body.callable) return std::nullopt;
    return body;
  }
  body.recipe = recipe_for(fn, here);
  if (!body.recipe) return std::nullopt;
  if (PyFunction_GET_CLOSURE(fn) == nullptr && PyFunction_GET_DEFAULTS(fn) == nullptr &&
      PyFunction_GET_KW_DEFAULTS(fn) == nullptr) {
    return body;
  }
  body.captures = copied_captures(fn);
  if (!body.captures) {
    PyObject* captures = captures_tuple(fn);
    if (captures == nullptr) return std::nullopt;
    std::optional<Portable> pickled = carry(captures, fn, here);
    Py_DECREF(captures);
    if (!pickled) return std::nullopt;
    body.captures.emplace();
    body.captures->pickled = std::move(pickled);
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
  InterpreterLocal::Loaded entry{recipe, Py_NewRef(loaded_code), Py_NewRef(globals), nullptr, nullptr};
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

// The same from values copied one by one.
PyObject* cells_of(const std::vector<std::optional<Portable>>& values, InterpreterLocal& here) {
  PyObject* cells = PyTuple_New(static_cast<Py_ssize_t>(values.size()));
  for (std::size_t i = 0; cells != nullptr && i < values.size(); ++i) {
    PyObject* value = values[i] ? values[i]->make(here) : nullptr;
    PyObject* cell = values[i] && value == nullptr ? nullptr : PyCell_New(value);
    Py_XDECREF(value);
    if (cell == nullptr) {
      Py_CLEAR(cells);
    } else {
      PyTuple_SET_ITEM(cells, static_cast<Py_ssize_t>(i), cell);
    }
  }
  return cells;
}

// Gives `fn` its cells (unless there are none) and defaults; false with an
// error set if it cannot.
bool equip(PyObject* fn, PyObject* cells, PyObject* defaults, PyObject* kwdefaults) {
  return (cells == nullptr || PyTuple_GET_SIZE(cells) == 0 || PyFunction_SetClosure(fn, cells) == 0) &&
         (defaults == Py_None || PyFunction_SetDefaults(fn, defaults) == 0) &&
         (kwdefaults == Py_None || PyFunction_SetKwDefaults(fn, kwdefaults) == 0);
}

}  // namespace

namespace {
// Refills `fn`, a spare of the same code, with what this behaviour captured.
bool refill(PyObject* fn, const Captures& captures, InterpreterLocal& here) {
  PyObject* closure = PyFunction_GET_CLOSURE(fn);
  for (std::size_t i = 0; i < captures.cells.size(); ++i) {
    PyObject* value = captures.cells[i] ? captures.cells[i]->make(here) : nullptr;
    if (captures.cells[i] && value == nullptr) return false;
    PyCell_Set(PyTuple_GET_ITEM(closure, static_cast<Py_ssize_t>(i)), value);
    Py_XDECREF(value);
  }
  if (!captures.defaults) return true;
  PyObject* defaults = captures.defaults->make(here);
  const bool ok = defaults != nullptr && PyFunction_SetDefaults(fn, defaults) == 0;
  Py_XDECREF(defaults);
  return ok;
}
}  // namespace

PyObject* arrive(const TravellingBody& body, InterpreterLocal& here) {
  if (!body.recipe) return body.callable->make(here);
  auto* entry = const_cast<InterpreterLocal::Loaded*>(load(body.recipe, here));
  if (entry == nullptr) return nullptr;
  if (!body.captures) {
    if (entry->plain == nullptr) entry->plain = PyFunction_New(entry->code, entry->globals);
    return entry->plain != nullptr ? Py_NewRef(entry->plain) : nullptr;
  }
  const Captures& captures = *body.captures;
  if (!captures.pickled && entry->spare != nullptr) {
    PyObject* fn = std::exchange(entry->spare, nullptr);
    if (refill(fn, captures, here)) return fn;
    Py_DECREF(fn);
    return nullptr;
  }
  PyObject* fn = PyFunction_New(entry->code, entry->globals);
  if (fn == nullptr) return nullptr;
  bool ok;
  if (captures.pickled) {
    PyObject* made = captures.pickled->make(here);
    PyObject *values, *defaults, *kwdefaults;
    unsigned long long empty = 0;
    ok = made != nullptr &&
         PyArg_ParseTuple(made, "O!OOK", &PyTuple_Type, &values, &defaults, &kwdefaults, &empty) != 0;
    PyObject* cells = ok ? cells_of(values, empty) : nullptr;
    ok = ok && cells != nullptr && equip(fn, cells, defaults, kwdefaults);
    Py_XDECREF(cells);
    Py_XDECREF(made);
  } else {
    PyObject* cells = cells_of(captures.cells, here);
    PyObject* defaults = captures.defaults ? captures.defaults->make(here) : Py_NewRef(Py_None);
    ok = cells != nullptr && defaults != nullptr && equip(fn, cells, defaults, Py_None);
    Py_XDECREF(cells);
    Py_XDECREF(defaults);
  }
  if (!ok) Py_CLEAR(fn);
  return fn;
}

void depart(const TravellingBody& body, PyObject* fn, InterpreterLocal& here) noexcept {
  // A function that nothing kept, with no attributes of its own and cells
  // that no inner function shares, is as good as new for the next
  // behaviour of the same body: kept, empty, instead of made again.
  bool reusable = body.recipe && body.captures && !body.captures->pickled && Py_REFCNT(fn) == 1 &&
                  reinterpret_cast<PyFunctionObject*>(fn)->func_dict == nullptr;
  PyObject* closure = reusable ? PyFunction_GET_CLOSURE(fn) : nullptr;
  if (closure != nullptr) {
    reusable = Py_REFCNT(closure) == 1;
    for (Py_ssize_t i = 0; reusable && i < PyTuple_GET_SIZE(closure); ++i) {
      reusable = Py_REFCNT(PyTuple_GET_ITEM(closure, i)) == 1;
    }
  }
  auto found = reusable ? here.loaded.find(body.recipe.get()) : here.loaded.end();
  if (found == here.loaded.end() || found->second.spare != nullptr) {
    Py_DECREF(fn);
    return;
  }
  // Emptied now: what the body captured goes with its behaviour.
  for (Py_ssize_t i = 0; closure != nullptr && i < PyTuple_GET_SIZE(closure); ++i) {
    PyCell_Set(PyTuple_GET_ITEM(closure, i), nullptr);
  }
  found->second.spare = fn;
}

}  // namespace boc::python
