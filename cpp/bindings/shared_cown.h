// The Python side of a cown, shared by every interpreter that refers to it:
// the core cown plus the value it guards, wherever that value lives.
//
// Under executor="threads" every value lives in the main interpreter. Under
// "subinterpreters" a value is a live object in the interpreter that used
// it last and moves only when a behaviour in another interpreter uses it
// (value_slot.cpp). Only the cown's holder touches its value: the behaviour
// that holds it, or a thread outside behaviours while none is in flight;
// threads outside behaviours take turns with each other and keep
// behaviours from starting meanwhile whenever a use may move the value
// (OutsideUse, outside_use.h). So the slot itself needs no lock.
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
#include "boc/trace.h"

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
// Where the calling thread's behaviour records its moves, when its run keeps
// a trace (null otherwise), and that behaviour's trace id.
inline constinit thread_local TraceRing* move_trace = nullptr;
inline constinit thread_local std::uint32_t traced_behaviour = 0;
}  // namespace detail

// Starts counting for a new behaviour on the calling thread, and tracing its
// moves in `trace` (the worker's ring, or null) under `trace_id`; the end stops.
void begin_counted_behaviour(MoveCounters* counters, TraceRing* trace, std::uint32_t trace_id) noexcept;
inline void end_counted_behaviour() noexcept {
  detail::move_counters = nullptr;
  detail::move_trace = nullptr;
}

class SharedCown;

class ValueSlot {
 public:
  // Takes `value` (a new reference) living in `here`; `owner` holds the slot.
  ValueSlot(SharedCown& owner, PyObject* value, InterpreterLocal& here) noexcept;
  ~ValueSlot();
  ValueSlot(const ValueSlot&) = delete;
  ValueSlot& operator=(const ValueSlot&) = delete;

  // The value as an object of `here` (whose lock the caller holds), moved
  // there first if it lives elsewhere: a new reference, or null with a
  // Python error set (a value that cannot move, or was lost, or is being
  // moved by code this very move runs).
  PyObject* get(InterpreterLocal& here);  // inline: interpreters.h
  // Replaces the value with `value` (a new reference) living in `here`,
  // whose lock the caller holds. False, with RuntimeError set and `value`
  // dropped, while the value is being moved (by code the move runs).
  bool set(PyObject* value, InterpreterLocal& here) noexcept;  // inline: interpreters.h

  // True if the value is an object of `here` now (or one every interpreter
  // shares): get() and set() then run no Python code but a finaliser.
  bool lives_in(const InterpreterLocal& here) const noexcept {
    return (state_ == State::live && home_ == &here) || state_ == State::anywhere;
  }
  // The object if it lives in `here` now (borrowed), else null: for the
  // collector's traversal, which must not move anything.
  PyObject* object_in(const InterpreterLocal& here) const noexcept {
    return state_ == State::live && home_ == &here ? object_ : nullptr;
  }

  // For InterpreterLocal::evict_residents, with `home`'s lock held: the
  // value leaves home for transit, to be made an object wherever it is used
  // next; else (it does not pickle, or `keep` is false) it is lost with its
  // interpreter, and later uses say why.
  void evict(InterpreterLocal& home, bool keep, const char* why) noexcept;

 private:
  enum class State : std::uint8_t {
    live,      // object_ is an object of home_
    anywhere,  // object_ is immortal and shared by every interpreter (None, True, False)
    transit,   // portable_ holds it, in no interpreter
    moving,    // being pickled or unpickled: code that runs then cannot use it
    lost,      // lost_ says why
  };
  // None, True and False are immortal objects shared by every interpreter.
  static bool shared_everywhere(PyObject* o) noexcept { return o == Py_None || o == Py_True || o == Py_False; }
  // Makes `value` (a new reference) the slot's, living in `here`.
  void place(PyObject* value, InterpreterLocal& here) noexcept;
  // Lets go of a live value of `home` that the slot no longer holds.
  void let_go(PyObject* object, InterpreterLocal& home) noexcept;
  PyObject* move_here(InterpreterLocal& here);  // get() of a value that lives elsewhere
  bool set_slow(PyObject* value, InterpreterLocal& here) noexcept;
  // The live value `object` of home_ as it leaves (home_'s lock held by the
  // caller if `home_locked`); null with an error set if it does not pickle.
  std::unique_ptr<Portable> to_transit(PyObject* object, bool home_locked);
  bool move_from_home();

  // The counters to charge for a use now, or null if there are none or this
  // behaviour was charged for this value already.
  MoveCounters* charge() noexcept {
    MoveCounters* m = detail::move_counters;
    if (m == nullptr || charged_behaviour_ == detail::behaviour_number) return nullptr;
    charged_behaviour_ = detail::behaviour_number;
    return m;
  }

  SharedCown& owner_;
  State state_ = State::anywhere;
  std::uint64_t charged_behaviour_ = 0;  // see charge()
  InterpreterLocal* home_ = nullptr;
  PyObject* object_ = nullptr;
  std::unique_ptr<Portable> portable_;
  std::string lost_;
};

using SharedCownRef = Ref<SharedCown>;

// A core cown with the value it guards: one allocation (from the core's
// recycler) and one reference count for the cown, its value, the Python
// objects that stand for it and the behaviours that wait for it.
class SharedCown final : public Cown {
 public:
  // Takes `value` (a new reference) living in `here`.
  SharedCown(PyObject* value, InterpreterLocal& here) noexcept : value_(*this, value, here) {}
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
