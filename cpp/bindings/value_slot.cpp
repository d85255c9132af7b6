#include <algorithm>
#include <atomic>
#include <climits>
#include <memory>
#include <optional>
#include <utility>

#include "boc/platform.h"
#include "interpreters.h"
#include "portable.h"
#include "shared_cown.h"

namespace boc::python {

namespace {
// Threads number their behaviours in blocks of their own, so that counting
// takes no shared atomic per behaviour.
std::atomic<std::uint64_t> next_block{1};
}  // namespace

void begin_counted_behaviour(MoveCounters* counters, TraceRing* trace, std::uint32_t trace_id) noexcept {
  constexpr std::uint64_t block = std::uint64_t{1} << 32;
  std::uint64_t& n = detail::behaviour_number;
  // Relaxed: only uniqueness matters.
  if (n % block == 0) n = next_block.fetch_add(1, std::memory_order_relaxed) * block;
  ++n;
  detail::move_counters = counters;
  detail::move_trace = trace;
  detail::traced_behaviour = trace_id;
}

ValueSlot::ValueSlot(SharedCown& owner, PyObject* value, InterpreterLocal& here) noexcept : owner_(owner) {
  place(value, here);
}

ValueSlot::~ValueSlot() {
  // The last reference is gone: no one else uses the slot.
  if (state_ == State::live) let_go(std::exchange(object_, nullptr), *home_);
}

void ValueSlot::place(PyObject* value, InterpreterLocal& here) noexcept {
  object_ = value;
  home_ = &here;
  if (shared_everywhere(value)) {
    state_ = State::anywhere;
  } else {
    state_ = State::live;
    if (!here.is_main()) here.add_resident(&owner_);
  }
}

void ValueSlot::let_go(PyObject* object, InterpreterLocal& home) noexcept {
  if (!home.is_main()) home.remove_resident(&owner_);
  // The main interpreter outlives every value that matters; a forsaken one
  // (a forked child's copy of the parent's) cannot be entered.
  if (home.is_main() || !home.forsaken()) home.discard(object);
}

bool ValueSlot::set_slow(PyObject* value, InterpreterLocal& here) noexcept {
  if (state_ == State::moving) {
    Py_DECREF(value);
    PyErr_SetString(PyExc_RuntimeError,
                    "this cown's value is being moved between interpreters; code that the move runs (a "
                    "__reduce__ or __setstate__) cannot use it");
    return false;
  }
  // The slot holds the new value before the old one goes: the old one's
  // finaliser may run code that uses this cown.
  const State was = state_;
  PyObject* old = std::exchange(object_, nullptr);
  InterpreterLocal* old_home = home_;
  std::unique_ptr<Portable> old_portable = std::move(portable_);
  place(value, here);
  if (was == State::live) let_go(old, *old_home);
  return true;
}

void ValueSlot::evict(InterpreterLocal& home, bool keep, const char* why) noexcept {
  if (state_ != State::live || home_ != &home) return;
  PyObject* object = object_;
  std::string failure;
  if (keep) {
    state_ = State::moving;
    std::unique_ptr<Portable> travelling = to_transit(object, true);
    if (travelling) {
      object_ = nullptr;
      portable_ = std::move(travelling);
      state_ = State::transit;
      Py_DECREF(object);  // last: the caller holds home's lock
      return;
    }
    failure = take_error_text();
  }
  object_ = nullptr;
  state_ = State::lost;
  lost_ = failure.empty() ? why : std::string(why) + " (" + failure + ")";
  Py_DECREF(object);  // last: the caller holds home's lock
}

PyObject* ValueSlot::move_here(InterpreterLocal& here) {
  switch (state_) {
    case State::anywhere:
      return Py_NewRef(object_);  // get() takes it first
    case State::lost:
      PyErr_Format(PyExc_RuntimeError, "this cown's value is gone: %s", lost_.c_str());
      return nullptr;
    case State::moving:
      PyErr_SetString(PyExc_RuntimeError,
                      "this cown's value is being moved between interpreters; code that the move runs (a "
                      "__reduce__ or __setstate__) cannot use it");
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
  // In transit now: make it an object of `here`. Moving while that runs, so
  // that unpickling code that uses this cown gets an error, not the half-made value.
  std::unique_ptr<Portable> arriving = std::move(portable_);
  state_ = State::moving;
  PyObject* made = arriving->make(here);
  if (made == nullptr) {  // still in transit: a later use may succeed
    portable_ = std::move(arriving);
    state_ = State::transit;
    return nullptr;
  }
  if (MoveCounters* m = charge()) {
    m->values_moved_in.add();
    m->bytes_moved_in.add(arriving->size());
    if (TraceRing* t = detail::move_trace) {
      const auto bytes = static_cast<std::int32_t>(std::min<std::size_t>(arriving->size(), INT32_MAX));
      t->record(TraceRecord::move, platform::tick(), detail::traced_behaviour, owner_.id(), bytes);
    }
  }
  place(made, here);
  return Py_NewRef(made);
}

std::unique_ptr<Portable> ValueSlot::to_transit(PyObject* object, bool home_locked) {
  // Small immutable values are copied without entering their interpreter.
  if (std::optional<Portable> copied = Portable::copy(object)) return std::make_unique<Portable>(std::move(*copied));
  InterpreterLocal& home = *home_;
  std::optional<Portable> pickled;
  std::string failure;
  {
    std::optional<Visit> visit;
    if (!home_locked) visit.emplace(home);
    pickled = Portable::pickle(object, home);
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
  PyObject* object = object_;
  state_ = State::moving;
  std::unique_ptr<Portable> travelling = to_transit(object, false);
  if (!travelling) {
    state_ = State::live;
    return false;
  }
  object_ = nullptr;
  portable_ = std::move(travelling);
  state_ = State::transit;
  let_go(object, home);
  return true;
}

}  // namespace boc::python
