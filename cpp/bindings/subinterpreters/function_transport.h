// Bodies that run in another interpreter than the one that scheduled them.
//
// A function's code and globals travel once per interpreter (a Recipe, made
// once per code object where the function is scheduled, loaded once where
// it runs; see boc/_transport.py for the two routes). What it captures
// (closure cells, defaults) travels with each behaviour, as the values they
// hold when it is scheduled: copied when they are small immutable values
// or cowns, pickled otherwise.
#pragma once

#include <Python.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../interpreters.h"
#include "../portable.h"

namespace boc::python {

class Recipe {
 public:
  // One or both routes (boc._transport.recipe).
  std::string code;                   // marshalled
  std::optional<std::string> module;  // whose globals it uses, if importable
  std::optional<std::string> value;   // else (or if that fails) a pickle carrying its globals
  std::vector<SharedCownRef> cowns;   // cowns the pickle refers to
};
using RecipeRef = std::shared_ptr<const Recipe>;

// What a function captures, as it travels. Where every value is a small
// immutable one (the common case: numbers, strings, cowns), each is copied
// on its own and the function is rebuilt from them directly; else they
// travel as one pickle, which keeps objects they share shared.
struct Captures {
  std::vector<std::optional<Portable>> cells;  // per free variable; none for an empty cell
  std::optional<Portable> defaults;            // the defaults tuple, if any
  std::optional<Portable> pickled;  // else: (cell values, defaults, kwdefaults, mask of empty cells)
};

// A body, ready to travel.
struct TravellingBody {
  RecipeRef recipe;                  // null: `callable` is the body
  std::optional<Portable> callable;  // a body that is not a function, whole
  std::optional<Captures> captures;  // none when the function captures nothing
};

// What `fn` (an object of `here`, whose lock is held) needs to run
// elsewhere; null with TypeError set if it cannot travel.
std::optional<TravellingBody> travelling_body(PyObject* fn, InterpreterLocal& here);

// The callable `body` stands for, made in `here` (lock held): a new
// reference, or null with an error set.
PyObject* arrive(const TravellingBody& body, InterpreterLocal& here);
// `fn`, which arrive() made for `body`, is done with (the reference is
// taken): kept for the next behaviour of the same body if nothing else
// refers to it.
void depart(const TravellingBody& body, PyObject* fn, InterpreterLocal& here) noexcept;

}  // namespace boc::python
