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

bool captures_something(PyObject* fn) {
  return PyFunction_GET_CLOSURE(fn) != nullptr || PyFunction_GET_DEFAULTS(fn) != nullptr ||
         PyFunction_GET_KW_DEFAULTS(fn) != nullptr;
}

// Captured functions nested deeper than this travel in a pickle.
constexpr std::size_t max_function_depth = 8;

bool carry_captures(PyObject* fn, Captures& out, std::vector<PyObject*>& enclosing, InterpreterLocal& here);

// `held`, one captured value, carried on its own if it can be (else false,
// no error set). `enclosing`: the functions whose captures are being
// carried, the innermost last.
bool carry_capture(PyObject* held, Capture& out, std::vector<PyObject*>& enclosing, InterpreterLocal& here) {
  if (held == nullptr) return true;  // an empty cell
  if (!PyFunction_Check(held)) {
    out.value = Portable::copy(held);
    out.kind = Capture::Kind::value;
    return out.value.has_value();
  }
  for (std::size_t up = 0; up < enclosing.size(); ++up) {
    if (enclosing[enclosing.size() - 1 - up] == held) {  // a recursive helper refers to itself
      out.kind = Capture::Kind::enclosing;
      out.up = up;
      return true;
    }
  }
  if (enclosing.size() >= max_function_depth) return false;
  out.function.recipe = recipe_for(held, here);
  if (!out.function.recipe) {
    PyErr_Clear();  // the pickle tried next says what is wrong
    return false;
  }
  out.kind = Capture::Kind::function;
  if (!captures_something(held)) return true;
  out.function.captures = std::make_unique<Captures>();
  return carry_captures(held, *out.function.captures, enclosing, here);
}

bool carry_captures(PyObject* fn, Captures& out, std::vector<PyObject*>& enclosing, InterpreterLocal& here) {
  if (PyFunction_GET_KW_DEFAULTS(fn) != nullptr) return false;  // a dict: pickled
  enclosing.push_back(fn);
  bool ok = true;
  if (PyObject* closure = PyFunction_GET_CLOSURE(fn)) {
    out.cells.resize(static_cast<std::size_t>(PyTuple_GET_SIZE(closure)));
    for (std::size_t i = 0; ok && i < out.cells.size(); ++i) {
      // Held while carried: making a recipe runs Python code, during which
      // another thread may rebind the variable.
      PyObject* held = Py_XNewRef(PyCell_GET(PyTuple_GET_ITEM(closure, static_cast<Py_ssize_t>(i))));
      ok = carry_capture(held, out.cells[i], enclosing, here);
      Py_XDECREF(held);
    }
  }
  if (PyObject* defaults = PyFunction_GET_DEFAULTS(fn); ok && defaults != nullptr) {
    out.defaults = Portable::copy(defaults);
    ok = out.defaults.has_value();
  }
  enclosing.pop_back();
  return ok;
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
  body.function.recipe = recipe_for(fn, here);
  if (!body.function.recipe) return std::nullopt;
  if (!captures_something(fn)) return body;
  body.function.captures = std::make_unique<Captures>();
  std::vector<PyObject*> enclosing;
  if (carry_captures(fn, *body.function.captures, enclosing, here)) return body;
  PyObject* captures = captures_tuple(fn);
  if (captures == nullptr) return std::nullopt;
  std::optional<Portable> pickled = carry(captures, fn, here);
  Py_DECREF(captures);
  if (!pickled) return std::nullopt;
  body.function.captures = std::make_unique<Captures>();
  body.function.captures->pickled = std::move(pickled);
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

// Gives `fn` its cells (unless there are none) and defaults; false with an
// error set if it cannot.
bool equip(PyObject* fn, PyObject* cells, PyObject* defaults, PyObject* kwdefaults) {
  return (cells == nullptr || PyTuple_GET_SIZE(cells) == 0 || PyFunction_SetClosure(fn, cells) == 0) &&
         (defaults == Py_None || PyFunction_SetDefaults(fn, defaults) == 0) &&
         (kwdefaults == Py_None || PyFunction_SetKwDefaults(fn, kwdefaults) == 0);
}

PyObject* make_function(const TravellingFunction& f, std::vector<PyObject*>& enclosing, InterpreterLocal& here);

// Gives `fn`, a function of the code the captures were taken from, what was
// captured: in new cells (`fresh`), else in the cells it has (a spare).
// False with an error set if it cannot.
bool fill(PyObject* fn, const Captures& captures, bool fresh, std::vector<PyObject*>& enclosing,
          InterpreterLocal& here) {
  if (captures.pickled) {
    PyObject* made = captures.pickled->make(here);
    PyObject *values, *defaults, *kwdefaults;
    unsigned long long empty = 0;
    bool ok = made != nullptr &&
              PyArg_ParseTuple(made, "O!OOK", &PyTuple_Type, &values, &defaults, &kwdefaults, &empty) != 0;
    PyObject* cells = ok ? cells_of(values, empty) : nullptr;
    ok = ok && cells != nullptr && equip(fn, cells, defaults, kwdefaults);
    Py_XDECREF(cells);
    Py_XDECREF(made);
    return ok;
  }
  const Py_ssize_t n = static_cast<Py_ssize_t>(captures.cells.size());
  // A spare has the cells already (none if it has no free variable).
  PyObject* cells = fresh ? PyTuple_New(n) : Py_XNewRef(PyFunction_GET_CLOSURE(fn));
  bool ok = cells != nullptr || n == 0;
  enclosing.push_back(fn);
  for (Py_ssize_t i = 0; ok && i < n; ++i) {
    const Capture& c = captures.cells[static_cast<std::size_t>(i)];
    PyObject* value = nullptr;
    switch (c.kind) {
      case Capture::Kind::empty:
        break;
      case Capture::Kind::value:
        value = c.value->make(here);
        ok = value != nullptr;
        break;
      case Capture::Kind::function:
        value = make_function(c.function, enclosing, here);
        ok = value != nullptr;
        break;
      case Capture::Kind::enclosing:
        value = Py_NewRef(enclosing[enclosing.size() - 1 - c.up]);
        break;
    }
    if (ok && fresh) {
      PyObject* cell = PyCell_New(value);
      ok = cell != nullptr;
      if (ok) PyTuple_SET_ITEM(cells, i, cell);
    } else if (ok) {
      PyCell_Set(PyTuple_GET_ITEM(cells, i), value);
    }
    Py_XDECREF(value);
  }
  enclosing.pop_back();
  if (ok && fresh && n > 0) ok = PyFunction_SetClosure(fn, cells) == 0;
  Py_XDECREF(cells);
  if (ok && captures.defaults) {
    PyObject* defaults = captures.defaults->make(here);
    ok = defaults != nullptr && PyFunction_SetDefaults(fn, defaults) == 0;
    Py_XDECREF(defaults);
  }
  return ok;
}

PyObject* make_function(const TravellingFunction& f, std::vector<PyObject*>& enclosing, InterpreterLocal& here) {
  auto* entry = const_cast<InterpreterLocal::Loaded*>(load(f.recipe, here));
  if (entry == nullptr) return nullptr;
  if (!f.captures) {
    // Nothing captured: one function serves every behaviour.
    if (entry->plain == nullptr) entry->plain = PyFunction_New(entry->code, entry->globals);
    return entry->plain != nullptr ? Py_NewRef(entry->plain) : nullptr;
  }
  PyObject* fn = PyFunction_New(entry->code, entry->globals);
  if (fn != nullptr && !fill(fn, *f.captures, true, enclosing, here)) Py_CLEAR(fn);
  return fn;
}

}  // namespace

PyObject* arrive(const TravellingBody& body, InterpreterLocal& here) {
  if (!body.function.recipe) return body.callable->make(here);
  std::vector<PyObject*> enclosing;
  const Captures* captures = body.function.captures.get();
  if (captures != nullptr && !captures->pickled) {
    auto found = here.loaded.find(body.function.recipe.get());
    if (found != here.loaded.end() && found->second.spare != nullptr) {
      PyObject* fn = std::exchange(found->second.spare, nullptr);
      if (!fill(fn, *captures, false, enclosing, here)) Py_CLEAR(fn);
      return fn;
    }
  }
  return make_function(body.function, enclosing, here);
}

void depart(const TravellingBody& body, PyObject* fn, InterpreterLocal& here) noexcept {
  // A function that nothing kept, with no attributes of its own and cells
  // that no inner function shares, is as good as new for the next
  // behaviour of the same body: kept, empty, instead of made again.
  const Captures* captures = body.function.captures.get();
  bool reusable = captures != nullptr && !captures->pickled && Py_REFCNT(fn) == 1 &&
                  reinterpret_cast<PyFunctionObject*>(fn)->func_dict == nullptr;
  PyObject* closure = reusable ? PyFunction_GET_CLOSURE(fn) : nullptr;
  if (closure != nullptr) {
    reusable = Py_REFCNT(closure) == 1;
    for (Py_ssize_t i = 0; reusable && i < PyTuple_GET_SIZE(closure); ++i) {
      reusable = Py_REFCNT(PyTuple_GET_ITEM(closure, i)) == 1;
    }
  }
  auto found = reusable ? here.loaded.find(body.function.recipe.get()) : here.loaded.end();
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
