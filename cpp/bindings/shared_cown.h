// The Python side of a cown, shared by every interpreter that refers to it:
// the core cown plus the value it guards, wherever that value lives.
//
// Under executor="threads" every value lives in the main interpreter. Under
// "subinterpreters" a value is a live object in the interpreter that used
// it last and moves only when a behaviour in another interpreter uses it
// (value_slot.cpp). Only the cown's holder touches its value: the behaviour
// that holds it, or a thread outside behaviours while none is in flight
// (checked by the callers), so the slot itself needs no lock.
#pragma once

#include <Python.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "boc/counter.h"
#include "boc/cown.h"
#include "boc/recycler.h"

namespace boc::python {

class InterpreterLocal;
class Portable;

// Per worker, what moving values cost it (see ValueSlot::get). Each counts
// a cown at most once per behaviour, at the body's first use of its value.
struct MoveCounters {
  Counter values_moved_in;     // values that came from another interpreter
  Counter bytes_moved_in;      // their size in transit
  Counter values_found_local;  // values already in this worker's interpreter
};

namespace detail {
// Where the counters of the calling thread's behaviour go; null outside a
// sub-interpreter behaviour (moves into the main interpreter are not counted).
inline constinit thread_local MoveCounters* move_counters = nullptr;
// A number for the behaviour the calling thread runs, unique in the process
// (see begin_counted_behaviour).
inline constinit thread_local std::uint64_t behaviour_number = 0;
}  // namespace detail

// Starts counting for a new behaviour on the calling thread; the end stops.
void begin_counted_behaviour(MoveCounters* counters) noexcept;
inline void end_counted_behaviour() noexcept { detail::move_counters = nullptr; }

class ValueSlot {
 public:
  // Takes `value` (a new reference) living in `here`.
  ValueSlot(PyObject* value, InterpreterLocal& here) noexcept;
  ~ValueSlot();
  ValueSlot(const ValueSlot&) = delete;
  ValueSlot& operator=(const ValueSlot&) = delete;

  // The value as an object of `here` (whose lock the caller holds), moved
  // there first if it lives elsewhere: a new reference, or null with a
  // Python error set (a value that cannot move, or was lost).
  PyObject* get(InterpreterLocal& here);  // inline: interpreters.h
  // Replaces the value with `value` (a new reference) living in `here`,
  // whose lock the caller holds.
  void set(PyObject* value, InterpreterLocal& here) noexcept;  // inline: interpreters.h

  // The object if it lives in `here` now (borrowed), else null: for the
  // collector's traversal, which must not move anything.
  PyObject* object_in(const InterpreterLocal& here) const noexcept {
    return state_ == State::live && home_ == &here ? object_ : nullptr;
  }

  // For InterpreterLocal::evict_residents, with `home`'s lock held and the
  // slot taken off its residents: the value leaves home for transit (false,
  // with nothing changed, if it does not pickle), or is lost with it, and
  // later uses say `why`.
  bool leave(InterpreterLocal& home) noexcept;
  void lose(const char* why) noexcept;

 private:
  enum class State : std::uint8_t {
    live,      // object_ is an object of home_
    anywhere,  // object_ is immortal and shared by every interpreter (None, True, False)
    transit,   // portable_ holds it, in no interpreter
    lost,      // lost_ says why
  };
  // None, True and False are immortal objects shared by every interpreter.
  static bool shared_everywhere(PyObject* o) noexcept { return o == Py_None || o == Py_True || o == Py_False; }
  void place(PyObject* value, InterpreterLocal& here) noexcept;
  void drop() noexcept;  // lets go of what the slot holds, wherever it lives
  PyObject* move_here(InterpreterLocal& here);  // get() of a value that lives elsewhere
  // The value as it leaves home (whose lock the caller holds if `home_locked`),
  // or null with an error set.
  std::unique_ptr<Portable> to_transit(bool home_locked);
  bool move_from_home();

  // The counters to charge for a use now, or null if there are none or this
  // behaviour was charged for this value already.
  MoveCounters* charge() noexcept {
    MoveCounters* m = detail::move_counters;
    if (m == nullptr || charged_behaviour_ == detail::behaviour_number) return nullptr;
    charged_behaviour_ = detail::behaviour_number;
    return m;
  }

  State state_ = State::anywhere;
  std::uint64_t charged_behaviour_ = 0;  // see charge()
  InterpreterLocal* home_ = nullptr;
  PyObject* object_ = nullptr;
  std::unique_ptr<Portable> portable_;
  const char* lost_ = nullptr;
};

class SharedCown;
using SharedCownRef = Ref<SharedCown>;

// A core cown with the value it guards: one allocation (from the core's
// recycler) and one reference count for the cown, its value, the Python
// objects that stand for it and the behaviours that wait for it.
class SharedCown final : public Cown {
 public:
  // Takes `value` (a new reference) living in `here`.
  SharedCown(PyObject* value, InterpreterLocal& here) noexcept : value_(value, here) {}
  static SharedCownRef make(PyObject* value, InterpreterLocal& here) { return SharedCownRef::make(value, here); }

  Cown* core() const noexcept { return const_cast<SharedCown*>(this); }
  std::uint64_t id() const noexcept { return Cown::id(); }
  ValueSlot& value() noexcept { return value_; }
  const ValueSlot& value() const noexcept { return value_; }

  // For the cown a behaviour returns into: true once the value is the
  // exception the body raised (until the value is assigned again).
  bool raised() const noexcept { return raised_; }
  void set_raised(bool raised) noexcept { raised_ = raised; }

  // The main interpreter's object for this cown while one exists (borrowed;
  // main interpreter's lock held), so that a cown that comes back from
  // another interpreter is the very object it was.
  PyObject* main_object = nullptr;

 private:
  ValueSlot value_;
  bool raised_ = false;
};

}  // namespace boc::python

namespace boc {
class Behaviour;
}

namespace boc::python {

// The Python behaviour the calling thread is running, if any (set while a
// body runs); used to check cown access.
const Behaviour*& current_python_behaviour();

// True if the calling thread's behaviour holds `c`; else false with
// RuntimeError set. Inside a behaviour only.
bool check_held(const SharedCown& c);

}  // namespace boc::python
