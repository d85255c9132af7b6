// A Python value in no interpreter: what travels when a value, a capture or
// an exception moves from one interpreter to another.
//
// Small immutable values (None, bools, ints that fit 64 bits, floats, str,
// bytes, tuples of these, cowns) are copied field by field; anything else is
// pickled in the interpreter it leaves. Copying reads only what an object
// can never change after it is made, so it needs no lock of the interpreter
// the object belongs to: moving a number out of a busy worker does not wait
// for that worker.
#pragma once

#include <Python.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared_cown.h"

namespace boc::python {

class Portable {
 public:
  // A field-by-field copy of `o` if it is made only of small immutable
  // values and cowns, else nothing. `o` may belong to any interpreter.
  static std::optional<Portable> copy(PyObject* o);

  // `o` pickled (boc._transport.dumps) in `there`, whose lock the caller
  // holds, with the cowns it refers to; null with a Python error set if it
  // does not pickle.
  static std::optional<Portable> pickle(PyObject* o, InterpreterLocal& there);

  // A new object of `here` (lock held), or null with a Python error set.
  PyObject* make(InterpreterLocal& here) const;

  // Bytes that crossed: the pickle's length, or the copied payload's.
  std::size_t size() const noexcept;

 private:
  enum class Kind : std::uint8_t { none, true_, false_, integer, floating, str, bytes, tuple, cown, pickled };
  explicit Portable(Kind k) : kind_(k) {}
  static bool copy_into(PyObject* o, Portable& out, int depth);

  Kind kind_;
  int str_kind_ = 0;  // PyUnicode kind of a str
  std::int64_t integer_ = 0;  // an int, or a str's length in characters
  double floating_ = 0;
  std::string data_;  // a str's code units, bytes, or the pickle
  std::vector<Portable> items_;  // a tuple's
  std::vector<SharedCownRef> cowns_;  // the cown, or those the pickle refers to
};

// While a value is pickled on this thread, the cowns its pickle refers to
// are gathered here (by boc.Cown.__reduce__); while one is unpickled, its
// cowns are looked up here by index (by boc._core._cown_from_token).
// Pickling a cown outside boc's own moves is a TypeError.
std::vector<SharedCownRef>*& cowns_being_pickled();
const std::vector<SharedCownRef>*& cowns_being_unpickled();

// What Cown.__reduce__ returns for `self`, whose cown is `c`: for exactly
// boc.Cown, `(boc._transport._cown, (index,))`; for an instance of a
// subclass, `(boc._transport._subclass_cown, (class, index, attributes))`,
// so that it arrives as an instance of its class with a copy of its
// attributes. Null with TypeError set outside a move.
PyObject* reduce_cown(PyObject* self, const SharedCownRef& c, bool exact);
// The cown at `index` in the value being unpickled; null with an error set.
const SharedCownRef* cown_from_token(Py_ssize_t index);

}  // namespace boc::python
