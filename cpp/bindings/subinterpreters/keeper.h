// The thread that makes and destroys the pool's sub-interpreters.
//
// Each sub-interpreter keeps the thread state it was made with for its whole
// life, and is destroyed with it, on the thread that made it. Two reasons:
// a sub-interpreter's `threading` module takes the thread that first imports
// it for its main thread and, when the interpreter ends, waits for that
// thread's state to go unless it is the thread ending it; and CPython 3.12
// reuses an interpreter's first thread state, racily, once no thread state
// is left in it. Runs start and stop on any thread, so one thread of boc's
// own does this work for all of them.
#pragma once

#include <Python.h>

#include <condition_variable>
#include <functional>
#include <mutex>

namespace boc::python {

class Keeper {
 public:
  static Keeper& instance();

  // Runs `task` on the keeper thread and waits for it. The caller holds the
  // main interpreter's lock, which is let go meanwhile; `task` runs holding
  // it too, with a thread state of the keeper's own. A Python error `task`
  // leaves set is raised here (as nanobind::python_error).
  void run(const std::function<void()>& task);

  // In a fork() child: the keeper thread does not exist there (and its
  // mutex may have been held at the fork). The child gets a keeper of its
  // own, which starts its thread on its first task; the copy is left alone.
  static void replace_in_child();

 private:
  Keeper() = default;
  static Keeper*& slot();
  void loop();

  std::mutex mutex_;
  std::condition_variable changed_;
  const std::function<void()>* task_ = nullptr;
  PyObject* raised_ = nullptr;  // what the last task left set
  bool done_ = false;
  bool started_ = false;
};

}  // namespace boc::python
