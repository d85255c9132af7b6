// What boc keeps per Python interpreter: the main one, and under
// executor="subinterpreters" one per worker (subinterpreters/pool.h).
#pragma once

#include <Python.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "shared_cown.h"

namespace boc::python {

class Recipe;

class InterpreterLocal {
 public:
  // `index`: -1 for the main interpreter, else the worker's.
  InterpreterLocal(PyInterpreterState* interpreter, int index) noexcept : interpreter_(interpreter), index_(index) {}
  InterpreterLocal(const InterpreterLocal&) = delete;
  InterpreterLocal& operator=(const InterpreterLocal&) = delete;

  PyInterpreterState* interpreter() const noexcept { return interpreter_; }
  int index() const noexcept { return index_; }
  bool is_main() const noexcept { return index_ < 0; }

  // From any thread, with or without a lock: `o`, an object of this
  // interpreter, is no longer needed. Dropped at once if the caller holds
  // this interpreter's lock, else at the next collect().
  void discard(PyObject* o) noexcept;
  // Drops what discard() kept. This interpreter's lock held.
  void collect() noexcept;

  // Values that live here now, for lose_all(). Any thread; a pool
  // interpreter only (the main one outlives every value that matters).
  void add_resident(SharedCown* c);
  void remove_resident(SharedCown* c) noexcept;
  // This interpreter is going away (its lock held). With `keep_values`, each
  // value that lives here leaves it (copied or pickled, to be made an object
  // wherever it is used next); the rest, and all without `keep_values`, go
  // with the interpreter, and later uses say `why`.
  void evict_residents(bool keep_values, const char* why) noexcept;

  // A pool interpreter's worker has a thread state in it (entered) or no
  // longer (left); at most one worker at a time does. Called by that worker.
  void worker_entered() noexcept;
  void worker_left() noexcept;
  // The thread id of the worker in this interpreter now, else 0. Any thread.
  unsigned long worker_thread() const noexcept { return worker_thread_.load(std::memory_order_acquire); }

  // Threads that wait for this interpreter's lock to move a value out of it
  // (Visit). The main thread may hold the main interpreter's lock for long
  // stretches while it schedules behaviours; between when() calls it lets
  // the waiting visitors in (main thread, its lock held), which CPython
  // alone would do only a switch interval (5 ms) after each began to wait.
  void let_visitors_in();
  friend class Visit;

  // A forked child cannot enter its parent's sub-interpreters: values that
  // lived there are lost.
  // Release/acquire: a thread that sees the flag sees the interpreter gone
  // (a use of its values afterwards is refused rather than entering it).
  void forsake() noexcept { forsaken_.store(true, std::memory_order_release); }
  bool forsaken() const noexcept { return forsaken_.load(std::memory_order_acquire); }

  // A pool interpreter is set up (cown_type and module are set); the pool
  // publishes it before, so that code that runs while it is set up finds it.
  void mark_ready() noexcept { ready_.store(true, std::memory_order_release); }
  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }

  // boc._transport.<name>, imported here on first use: a borrowed
  // reference, or null with an error set. Lock held.
  PyObject* transport(const char* name);

  // Makes this interpreter's Python object for `c` (a new reference), and
  // finds the cown of one (null if `o` is not an initialised cown of this
  // interpreter). Lock held.
  PyObject* wrap(const SharedCownRef& c);
  const SharedCownRef* unwrap(PyObject* o) const;
  // True if `o`, an object of any interpreter, is a cown of exactly boc's
  // own type there; no lock needed (reads only its type).
  static bool is_exact_cown(PyObject* o) noexcept;
  // The cown of `o`, for which is_exact_cown() is true.
  static const SharedCownRef* cown_of_exact(PyObject* o) noexcept;

  // Functions that left this interpreter (code -> recipe) and that arrived
  // in it (recipe -> code and globals). Lock held.
  struct Made {
    PyObject* globals;  // borrowed: compared only, kept alive by the code's functions
    std::shared_ptr<const Recipe> recipe;
  };
  struct Loaded {
    std::shared_ptr<const Recipe> recipe;  // keeps the key alive
    PyObject* code;
    PyObject* globals;
    PyObject* plain;  // the function with nothing captured, made on first use
    PyObject* spare;  // a function with captures that its last behaviour left unshared
  };
  std::unordered_map<PyObject*, Made> made;  // code objects kept by a reference
  std::unordered_map<const Recipe*, Loaded> loaded;
  // A pool interpreter's object for each cown that has one there
  // (borrowed; removed when the object goes), as SharedCown::main_object.
  std::unordered_map<const SharedCown*, PyObject*> cown_objects;
  // Drops the caches, for an interpreter that is going away. Lock held.
  void clear_caches() noexcept;

  // Set by the pool for its interpreters: boc's cown type there, and
  // boc._core as bodies there see it (worker_module.h).
  PyTypeObject* cown_type = nullptr;
  PyObject* module = nullptr;

 private:
  PyInterpreterState* const interpreter_;
  const int index_;
  std::atomic<bool> forsaken_{false};
  std::atomic<bool> ready_{false};
  std::atomic<unsigned long> worker_thread_{0};
  std::atomic<int> visitors_{0};  // waiting for this interpreter's lock
  std::mutex visitors_mutex_;
  std::condition_variable visitors_in_;
  std::mutex garbage_mutex_;
  std::vector<PyObject*> garbage_;
  std::atomic<bool> has_garbage_{false};
  std::atomic<bool> collection_scheduled_{false};  // the main interpreter's: a pending call will collect
  // Cowns whose value lives here. Held only to read or change the set,
  // never while Python code runs.
  std::mutex residents_mutex_;
  std::unordered_set<SharedCown*> residents_;
  PyObject* transport_ = nullptr;
};

namespace detail {
InterpreterLocal* make_main_local();
// Made at import, never destroyed: workers may outlive statics.
inline InterpreterLocal* const main_local = make_main_local();
}  // namespace detail

// The main interpreter's.
inline InterpreterLocal& main_local() noexcept { return *detail::main_local; }

// The calling thread's interpreter's (it holds that interpreter's lock):
// the main one's or a pool interpreter's.
InterpreterLocal& current_local();

// The calling thread's thread state, or null; never fails.
inline PyThreadState* thread_state_or_null() noexcept {
#if PY_VERSION_HEX >= 0x030D0000
  return PyThreadState_GetUnchecked();
#else
  return _PyThreadState_UncheckedGet();
#endif
}

// True if the calling thread holds `local`'s lock now (a thread state is
// current only while its thread holds its interpreter's lock).
inline bool holds_lock_of(const InterpreterLocal& local) noexcept {
  PyThreadState* ts = thread_state_or_null();
  return ts != nullptr && ts->interp == local.interpreter();
}

// For the lifetime of a Visit, the calling thread has left its interpreter
// (if it was in one) and holds `there`'s lock, with a thread state made for
// the visit. A thread never holds two interpreters' locks at once, so
// visits cannot deadlock.
class Visit {
 public:
  explicit Visit(InterpreterLocal& there);
  ~Visit();
  Visit(const Visit&) = delete;
  Visit& operator=(const Visit&) = delete;

 private:
  PyThreadState* own_;
  PyThreadState* visiting_;
};

// "TypeName: message" of the error set in this thread, which is cleared.
std::string take_error_text();

// ValueSlot's fast paths, which need InterpreterLocal.
inline PyObject* ValueSlot::get(InterpreterLocal& here) {
  if ((state_ == State::live && home_ == &here) || state_ == State::anywhere) {
    if (!here.is_main()) {
      if (MoveCounters* m = charge()) m->values_found_local.add();
    }
    return Py_NewRef(object_);
  }
  return move_here(here);
}

inline bool ValueSlot::set(PyObject* value, InterpreterLocal& here) noexcept {
  if (state_ == State::live && home_ == &here && !shared_everywhere(value)) {
    // The common case: a body assigns a value it found here. The old
    // value goes last, as its finaliser may run code that reads this slot.
    PyObject* old = std::exchange(object_, value);
    Py_DECREF(old);
    return true;
  }
  return set_slow(value, here);
}

}  // namespace boc::python
