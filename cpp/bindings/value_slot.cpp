#include <atomic>
#include <memory>
#include <optional>
#include <utility>

#include "interpreters.h"
#include "portable.h"
#include "shared_cown.h"

namespace boc::python {

namespace {
// Threads number their behaviours in blocks of their own, so that counting
// takes no shared atomic per behaviour.
std::atomic<std::uint64_t> next_block{1};
}  // namespace

void begin_counted_behaviour(MoveCounters* counters) noexcept {
  constexpr std::uint64_t block = std::uint64_t{1} << 32;
  std::uint64_t& n = detail::behaviour_number;
  // Relaxed: only uniqueness matters.
  if (n % block == 0) n = next_block.fetch_add(1, std::memory_order_relaxed) * block;
  ++n;
  detail::move_counters = counters;
}

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
      if (home_->is_main()) {
        home_->discard(object_);  // the main interpreter outlives every value that matters
      } else if (home_->remove_resident(this)) {
        if (!home_->forsaken()) home_->discard(object_);
      }  // else evicted meanwhile: state_ says what is left
      if (state_ == State::transit) portable_.reset();
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

bool ValueSlot::leave(InterpreterLocal& home) noexcept {
  std::unique_ptr<Portable> travelling = to_transit(true);
  if (!travelling) {
    PyErr_Clear();
    return false;
  }
  Py_DECREF(object_);  // the caller holds home's lock
  object_ = nullptr;
  portable_ = std::move(travelling);
  state_ = State::transit;
  return true;
}

void ValueSlot::lose(const char* why) noexcept {
  Py_DECREF(object_);  // the caller holds home's lock
  object_ = nullptr;
  state_ = State::lost;
  lost_ = why;
}

PyObject* ValueSlot::move_here(InterpreterLocal& here) {
  switch (state_) {
    case State::anywhere:
      return Py_NewRef(object_);  // get() takes it first
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

std::unique_ptr<Portable> ValueSlot::to_transit(bool home_locked) {
  // Small immutable values are copied without entering their interpreter.
  if (std::optional<Portable> copied = Portable::copy(object_)) return std::make_unique<Portable>(std::move(*copied));
  InterpreterLocal& home = *home_;
  std::optional<Portable> pickled;
  std::string failure;
  {
    std::optional<Visit> visit;
    if (!home_locked) visit.emplace(home);
    pickled = Portable::pickle(object_, home);
    if (!pickled) failure = take_error_text();
    home.collect();
  }
  if (!pickled) {
    PyErr_SetString(PyExc_TypeError, failure.c_str());
    return nullptr;
  }
  return std::make_unique<Portable>(std::move(*pickled));
}

bool ValueSlot::move_from_home() {
  InterpreterLocal& home = *home_;
  std::unique_ptr<Portable> travelling = to_transit(false);
  if (!travelling) return false;
  if (!home.is_main()) home.remove_resident(this);
  home.discard(object_);
  object_ = nullptr;
  portable_ = std::move(travelling);
  state_ = State::transit;
  return true;
}

}  // namespace boc::python
