#include <atomic>

#include "interpreters.h"
#include "portable.h"
#include "shared_cown.h"

namespace boc::python {

MoveCounters*& current_move_counters() {
  thread_local MoveCounters* counters = nullptr;
  return counters;
}

namespace {
// A number for the behaviour the calling thread runs, unique in the process:
// threads number their behaviours in blocks of their own, so that counting
// takes no shared atomic per behaviour.
std::atomic<std::uint64_t> next_block{1};
thread_local std::uint64_t behaviour_number = 0;

std::uint64_t& current_behaviour_number() { return behaviour_number; }
}  // namespace

void begin_counted_behaviour(MoveCounters* counters) noexcept {
  constexpr std::uint64_t block = std::uint64_t{1} << 32;
  std::uint64_t& n = current_behaviour_number();
  // Relaxed: only uniqueness matters.
  if (n % block == 0) n = next_block.fetch_add(1, std::memory_order_relaxed) * block;
  ++n;
  current_move_counters() = counters;
}

MoveCounters* ValueSlot::charge() noexcept {
  MoveCounters* m = current_move_counters();
  if (m == nullptr || charged_behaviour_ == current_behaviour_number()) return nullptr;
  charged_behaviour_ = current_behaviour_number();
  return m;
}

namespace {
// None, True and False are immortal objects shared by every interpreter.
bool shared_everywhere(PyObject* o) noexcept { return o == Py_None || o == Py_True || o == Py_False; }
}  // namespace

ValueSlot::ValueSlot(PyObject* value, InterpreterLocal& here) noexcept { place(value, here); }

ValueSlot::~ValueSlot() { drop(); }

void ValueSlot::place(PyObject* value, InterpreterLocal& here) noexcept {
  object_ = value;
  home_ = &here;
  if (shared_everywhere(value)) {
    state_ = State::anywhere;
  } else {
    state_ = State::live;
    if (!here.is_main()) here.add_resident(this);
  }
}

void ValueSlot::drop() noexcept {
  switch (state_) {
    case State::live:
      if (!home_->is_main()) home_->remove_resident(this);
      if (!home_->forsaken()) home_->discard(object_);
      break;
    case State::anywhere:
      break;  // immortal
    case State::transit:
      portable_.reset();
      break;
    case State::lost:
      break;
  }
  object_ = nullptr;
  state_ = State::lost;
  lost_ = "the value was dropped";
}

void ValueSlot::set(PyObject* value, InterpreterLocal& here) noexcept {
  drop();
  place(value, here);
}

void ValueSlot::lose_with(InterpreterLocal& home, const char* why) noexcept {
  if (state_ != State::live || home_ != &home) return;
  Py_DECREF(object_);  // the caller holds home's lock
  object_ = nullptr;
  state_ = State::lost;
  lost_ = why;
}

PyObject* ValueSlot::get(InterpreterLocal& here) {
  if ((state_ == State::live && home_ == &here) || state_ == State::anywhere) {
    if (MoveCounters* m = charge()) m->values_found_local.add();
    return Py_NewRef(object_);
  }
  switch (state_) {
    case State::anywhere:
      break;  // above
    case State::lost:
      PyErr_Format(PyExc_RuntimeError, "this cown's value is gone: %s", lost_);
      return nullptr;
    case State::live:
      if (home_->forsaken()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this cown's value lives in a sub-interpreter of the parent process, which a forked "
                        "child cannot enter");
        return nullptr;
      }
      if (!move_from_home()) return nullptr;
      break;
    case State::transit:
      break;
  }
  // In transit now: make it an object of `here`.
  PyObject* made = portable_->make(here);
  if (made == nullptr) return nullptr;  // still in transit: a later use may succeed
  if (MoveCounters* m = charge()) {
    m->values_moved_in.add();
    m->bytes_moved_in.add(portable_->size());
  }
  portable_.reset();
  place(made, here);
  return Py_NewRef(made);
}

bool ValueSlot::move_from_home() {
  InterpreterLocal& home = *home_;
  // Small immutable values are copied without entering their interpreter.
  if (std::optional<Portable> copied = Portable::copy(object_)) {
    portable_ = std::make_unique<Portable>(std::move(*copied));
  } else {
    std::string failure;
    {
      Visit visit(home);
      if (std::optional<Portable> pickled = Portable::pickle(object_, home)) {
        portable_ = std::make_unique<Portable>(std::move(*pickled));
      } else {
        failure = take_error_text();
      }
      home.collect();
    }
    if (!portable_) {
      PyErr_SetString(PyExc_TypeError, failure.c_str());
      return false;
    }
  }
  if (!home.is_main()) home.remove_resident(this);
  home.discard(object_);
  object_ = nullptr;
  state_ = State::transit;
  return true;
}

}  // namespace boc::python
