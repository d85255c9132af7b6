#include "keeper.h"

#include <nanobind/nanobind.h>

#include <thread>

#include "../raised.h"

namespace nb = nanobind;

namespace boc::python {

Keeper*& Keeper::slot() {
  static Keeper* keeper = new Keeper();  // never destroyed: its thread outlives statics
  return keeper;
}

Keeper& Keeper::instance() { return *slot(); }

void Keeper::replace_in_child() { slot() = new Keeper(); }

void Keeper::run(const std::function<void()>& task) {
  PyObject* raised;
  {
    nb::gil_scoped_release unlocked;
    std::unique_lock<std::mutex> lock(mutex_);
    if (!started_) {
      started_ = true;
      std::thread([this] { loop(); }).detach();
    }
    // One caller at a time (InterpreterPool's own mutex), so no task waits.
    task_ = &task;
    done_ = false;
    changed_.notify_all();
    changed_.wait(lock, [this] { return done_; });
    raised = std::exchange(raised_, nullptr);
  }
  if (raised != nullptr) {
    restore_raised_exception(raised);
    throw nb::python_error();
  }
}

void Keeper::loop() {
  // A thread state of the main interpreter, for holding its lock; made here
  // so that it belongs to this thread.
  PyThreadState* mine = PyThreadState_New(PyInterpreterState_Main());
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return task_ != nullptr; });
    const std::function<void()>* task = std::exchange(task_, nullptr);
    lock.unlock();
    PyEval_RestoreThread(mine);
    (*task)();
    PyObject* raised = take_raised_exception();
    PyEval_SaveThread();
    lock.lock();
    raised_ = raised;
    done_ = true;
    changed_.notify_all();
  }
}

}  // namespace boc::python
