#include "portable.h"

#include "interpreters.h"

namespace boc::python {

namespace {
// Deeper or longer tuples are pickled: copying them field by field would
// not be cheaper, and a limit keeps the recursion bounded.
constexpr int max_depth = 8;
constexpr Py_ssize_t max_items = 1024;
}  // namespace

std::vector<SharedCownRef>*& cowns_being_pickled() {
  thread_local std::vector<SharedCownRef>* gathering = nullptr;
  return gathering;
}

const std::vector<SharedCownRef>*& cowns_being_unpickled() {
  thread_local const std::vector<SharedCownRef>* table = nullptr;
  return table;
}

bool Portable::copy_into(PyObject* o, Portable& out, int depth) {
  // Exact types only: a subclass may carry state or behaviour of its own.
  PyTypeObject* type = Py_TYPE(o);
  if (o == Py_None) {
    out.kind_ = Kind::none;
  } else if (o == Py_True) {
    out.kind_ = Kind::true_;
  } else if (o == Py_False) {
    out.kind_ = Kind::false_;
  } else if (type == &PyLong_Type) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0) return false;  // no error is set for an overflow
    out.kind_ = Kind::integer;
    out.integer_ = v;
  } else if (type == &PyFloat_Type) {
    out.kind_ = Kind::floating;
    out.floating_ = PyFloat_AS_DOUBLE(o);
  } else if (type == &PyUnicode_Type) {
    out.kind_ = Kind::str;
    out.str_kind_ = PyUnicode_KIND(o);
    out.integer_ = PyUnicode_GET_LENGTH(o);
    out.data_.assign(static_cast<const char*>(PyUnicode_DATA(o)), static_cast<std::size_t>(out.integer_) * out.str_kind_);
  } else if (type == &PyBytes_Type) {
    out.kind_ = Kind::bytes;
    out.data_.assign(PyBytes_AS_STRING(o), static_cast<std::size_t>(PyBytes_GET_SIZE(o)));
  } else if (type == &PyTuple_Type) {
    const Py_ssize_t n = PyTuple_GET_SIZE(o);
    if (depth >= max_depth || n > max_items) return false;
    out.kind_ = Kind::tuple;
    out.items_.reserve(static_cast<std::size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      out.items_.emplace_back(Portable(Kind::none));
      if (!copy_into(PyTuple_GET_ITEM(o, i), out.items_.back(), depth + 1)) return false;
    }
  } else if (InterpreterLocal::is_exact_cown(o)) {
    out.kind_ = Kind::cown;
    out.cowns_.push_back(*InterpreterLocal::cown_of_exact(o));
  } else {
    return false;
  }
  return true;
}

std::optional<Portable> Portable::copy(PyObject* o) {
  Portable out(Kind::none);
  if (!copy_into(o, out, 0)) return std::nullopt;
  return out;
}

std::optional<Portable> Portable::pickle(PyObject* o, InterpreterLocal& there) {
  PyObject* dumps = there.transport("dumps");
  if (dumps == nullptr) return std::nullopt;
  Portable out(Kind::pickled);
  std::vector<SharedCownRef>* outer = std::exchange(cowns_being_pickled(), &out.cowns_);
  PyObject* data = PyObject_CallOneArg(dumps, o);
  cowns_being_pickled() = outer;
  if (data == nullptr) return std::nullopt;
  if (!PyBytes_Check(data)) {
    Py_DECREF(data);
    PyErr_SetString(PyExc_SystemError, "boc._transport.dumps returned something other than bytes");
    return std::nullopt;
  }
  out.data_.assign(PyBytes_AS_STRING(data), static_cast<std::size_t>(PyBytes_GET_SIZE(data)));
  Py_DECREF(data);
  return out;
}

PyObject* Portable::make(InterpreterLocal& here) const {
  switch (kind_) {
    case Kind::none:
      Py_RETURN_NONE;
    case Kind::true_:
      Py_RETURN_TRUE;
    case Kind::false_:
      Py_RETURN_FALSE;
    case Kind::integer:
      return PyLong_FromLongLong(integer_);
    case Kind::floating:
      return PyFloat_FromDouble(floating_);
    case Kind::str:
      return PyUnicode_FromKindAndData(str_kind_, data_.data(), static_cast<Py_ssize_t>(integer_));
    case Kind::bytes:
      return PyBytes_FromStringAndSize(data_.data(), static_cast<Py_ssize_t>(data_.size()));
    case Kind::tuple: {
      PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(items_.size()));
      if (t == nullptr) return nullptr;
      for (std::size_t i = 0; i < items_.size(); ++i) {
        PyObject* item = items_[i].make(here);
        if (item == nullptr) {
          Py_DECREF(t);
          return nullptr;
        }
        PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), item);
      }
      return t;
    }
    case Kind::cown:
      return here.wrap(cowns_[0]);
    case Kind::pickled: {
      PyObject* loads = here.transport("loads");
      if (loads == nullptr) return nullptr;
      PyObject* data = PyBytes_FromStringAndSize(data_.data(), static_cast<Py_ssize_t>(data_.size()));
      if (data == nullptr) return nullptr;
      const std::vector<SharedCownRef>* outer = std::exchange(cowns_being_unpickled(), &cowns_);
      PyObject* made = PyObject_CallOneArg(loads, data);
      cowns_being_unpickled() = outer;
      Py_DECREF(data);
      return made;
    }
  }
  return nullptr;
}

std::size_t Portable::size() const noexcept {
  switch (kind_) {
    case Kind::integer:
    case Kind::floating:
      return 8;
    case Kind::str:
    case Kind::bytes:
    case Kind::pickled:
      return data_.size();
    case Kind::tuple: {
      std::size_t n = 0;
      for (const Portable& p : items_) n += p.size();
      return n;
    }
    default:
      return 0;
  }
}

PyObject* reduce_cown(PyObject* self, const SharedCownRef& c, bool exact) {
  std::vector<SharedCownRef>* gathering = cowns_being_pickled();
  if (gathering == nullptr) {
    PyErr_SetString(PyExc_TypeError,
                    "a boc.Cown cannot be pickled: it is an identity, not a value (boc moves cowns between its "
                    "own interpreters itself)");
    return nullptr;
  }
  // A Python function, which pickle finds by name in any interpreter.
  PyObject* rebuild = current_local().transport(exact ? "_cown" : "_subclass_cown");
  if (rebuild == nullptr) return nullptr;
  const Py_ssize_t index = static_cast<Py_ssize_t>(gathering->size());
  if (exact) {
    gathering->push_back(c);
    return Py_BuildValue("(O(n))", rebuild, index);
  }
  PyObject* attributes = PyObject_GenericGetDict(self, nullptr);
  if (attributes == nullptr) {
    PyErr_Clear();  // a subclass with __slots__ only
    attributes = Py_NewRef(Py_None);
  }
  gathering->push_back(c);
  return Py_BuildValue("(O(OnN))", rebuild, reinterpret_cast<PyObject*>(Py_TYPE(self)), index, attributes);
}

const SharedCownRef* cown_from_token(Py_ssize_t index) {
  const std::vector<SharedCownRef>* table = cowns_being_unpickled();
  if (table == nullptr || index < 0 || static_cast<std::size_t>(index) >= table->size()) {
    PyErr_SetString(PyExc_TypeError, "a boc.Cown can be unpickled only by boc, in a value it moves");
    return nullptr;
  }
  return &(*table)[static_cast<std::size_t>(index)];
}

}  // namespace boc::python
