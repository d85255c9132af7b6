#include "python_worker.h"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "interpreter_exit.h"

namespace boc::python {

namespace {
thread_local PythonWorker* this_worker = nullptr;

#ifndef Py_GIL_DISABLED
// How long a worker waits for its turn (below) before it competes for the
// interpreter lock anyway: about CPython's switch interval.
constexpr std::chrono::milliseconds turn_wait{5};

// Workers take turns at the interpreter lock. Without this, a worker that
// found one behaviour would block on the lock and, after CPython's switch
// interval, force the running worker off it in the middle of a stream of
// Python bodies; with small bodies the two then trade the lock (each trade
// a wake-up of a sleeping thread) far more often than they run Python. A
// worker waits here, holding no lock, until the worker whose turn it is
// lets go on its own (it ran out of work or ran a native body). The main
// thread does not take turns: CPython's own switching shares the lock
// between it and the worker whose turn it is.
//
// A turn is advice, not a lock: a body may release the interpreter lock
// itself (a sleep, I/O, a native call) and go on for long, and a stream of
// Python bodies may never end, so a waiter gives up waiting for the turn
// after about a switch interval and competes for the interpreter lock as
// threads normally do.
class Turn {
 public:
  // True if `w` got the turn (and must give it back).
  bool take(const PythonWorker* w) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!free_.wait_for(lock, turn_wait, [this] { return owner_ == nullptr; })) {
      return false;
    }
    owner_ = w;
    return true;
  }
  void give_back() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      owner_ = nullptr;
    }
    free_.notify_one();
  }

  // Held across fork() in the parent (see turn_slot).
  void lock_for_fork() { mutex_.lock(); }
  void unlock_after_fork() { mutex_.unlock(); }

 private:
  std::mutex mutex_;
  std::condition_variable free_;
  const PythonWorker* owner_ = nullptr;
};

// Never destroyed: workers may outlive statics. fork() copies only the
// calling thread, so the parent takes the turn's lock around it (no worker
// is inside it then), and the child gets a turn of its own: the copied one
// may name an owner, and its condition variable waiters, that do not exist
// there. The copy is left alone, held.
Turn*& turn_slot() {
  static Turn* t = [] {
    pthread_atfork([] { turn_slot()->lock_for_fork(); }, [] { turn_slot()->unlock_after_fork(); },
                   [] { turn_slot() = new Turn(); });
    return new Turn();
  }();
  return t;
}

Turn& turn() { return *turn_slot(); }
#endif
}  // namespace

PythonWorker::PythonWorker(PyInterpreterState* interpreter)
    : thread_state_(PyThreadState_New(interpreter)) {}

PythonWorker& PythonWorker::of(WorkerContext& w, PyInterpreterState* interpreter) {
  if (this_worker == nullptr) {
    this_worker = new PythonWorker(interpreter);
    w.add_resource(this_worker);
  }
  return *this_worker;
}

void PythonWorker::hold() {
  if (python_abandoned()) {
    let_go();
    park_forever();
  }
  ran_python_ = true;
  if (held_) return;
#ifndef Py_GIL_DISABLED
  has_turn_ = turn().take(this);
#endif
  PyEval_RestoreThread(thread_state_);
  held_ = true;
}

PyObject* PythonWorker::empty_context() {
  if (empty_context_ == nullptr) empty_context_ = PyContext_New();
  return empty_context_;
}

void PythonWorker::after_empty_context() noexcept {
  const Py_ssize_t size = PyObject_Length(empty_context_);
  if (size != 0) {
    if (size < 0) PyErr_Clear();
    Py_CLEAR(empty_context_);
  }
}

void PythonWorker::let_go() noexcept {
  if (!held_) return;
  PyEval_SaveThread();
  held_ = false;
  give_back_turn();
}

void PythonWorker::give_back_turn() noexcept {
#ifndef Py_GIL_DISABLED
  if (has_turn_) turn().give_back();
  has_turn_ = false;
#endif
}

void PythonWorker::after_behaviour() noexcept {
#ifdef Py_GIL_DISABLED
  // No lock to keep: stay attached to the interpreter only while a body
  // runs, since the collector stops the world for every attached thread,
  // and a native body or the search for the next behaviour would hold it up.
  let_go();
#else
  // Only after a non-Python body: between Python bodies the lock stays, and
  // CPython's own switching hands it to any thread that asks for it (a
  // thread that waits a switch interval makes the holder drop it at its next
  // bytecode). Letting go and taking it straight back here would defeat
  // that: CPython counts the retake as a switch and the waiter goes on
  // waiting, for ever if the bodies keep coming.
  if (held_ && !ran_python_) let_go();
#endif
  ran_python_ = false;
}

void PythonWorker::retire() noexcept {
  hold();
  Py_CLEAR(empty_context_);
  PyThreadState_Clear(thread_state_);
  PyThreadState_DeleteCurrent();  // also releases the interpreter lock
  give_back_turn();
  this_worker = nullptr;
  delete this;
}

}  // namespace boc::python
