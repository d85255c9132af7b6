// Bodies that run in another interpreter than the one that scheduled them.
//
// A function's code and globals travel once per interpreter (a Recipe, made
// once per code object where the function is scheduled, loaded once where
// it runs; see boc/_transport.py for the two routes). What it captures
// (closure cells, defaults) travels with each behaviour, as the values they
// hold when it is scheduled. Where every captured value is a small
// immutable one (numbers, strings, cowns, tuples of them) or a function
// (a helper the body calls, recursive ones included), each is carried on
// its own and the function is rebuilt from them directly; anything else
// makes the captures travel as one pickle, which keeps objects they share
// shared.
#pragma once

#include <Python.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../interpreters.h"
#include "../portable.h"
#include "boc/recycler.h"

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

struct Captures;

// A function, as it travels among a body's captures.
struct TravellingFunction {
  RecipeRef recipe;
  std::unique_ptr<Captures> captures;  // null: it captures nothing
};

// One captured value.
struct Capture {
  enum class Kind : std::uint8_t {
    empty,     // a cell not yet set
    value,     // `value`
    function,  // `function`
    enclosing  // a function being rebuilt around this one, `up` levels out (0: the one whose cell this is)
  };
  Kind kind = Kind::empty;
  std::optional<Portable> value;
  TravellingFunction function;
  std::size_t up = 0;
};

// Made where the behaviour is scheduled and freed by the worker that ran
// it, hence the recycler (boc/recycler.h says why).
struct Captures {
  static void* operator new(std::size_t bytes) { return recycler::allocate(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { recycler::deallocate(p, bytes); }

  recycler::Vector<Capture> cells;  // one per free variable
  std::optional<Portable> defaults;  // the defaults tuple, if any
  // Instead of the above, for what cannot be carried value by value:
  // (cell values, defaults, kwdefaults, mask of empty cells), pickled.
  std::optional<Portable> pickled;
};

// A body, ready to travel.
struct TravellingBody {
  TravellingFunction function;       // a function (recipe set), or
  std::optional<Portable> callable;  // any other callable, whole
};

// What `fn` (an object of `here`, whose lock is held) needs to run
// elsewhere; none with TypeError set if it cannot travel.
std::optional<TravellingBody> travelling_body(PyObject* fn, InterpreterLocal& here);

// The callable `body` stands for, made in `here` (lock held): a new
// reference, or null with an error set.
PyObject* arrive(const TravellingBody& body, InterpreterLocal& here);
// `fn`, which arrive() made for `body`, is done with (the reference is
// taken): kept for the next behaviour of the same body if nothing else
// refers to it.
void depart(const TravellingBody& body, PyObject* fn, InterpreterLocal& here) noexcept;

}  // namespace boc::python
