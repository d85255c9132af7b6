// The sub-interpreters of executor="subinterpreters": one per worker index,
// each with its own interpreter lock (PEP 684).
//
// They are made when a run first needs them and kept for later runs, until
// the interpreter exits: on CPython 3.12 and 3.13 making one costs about
// 15 ms and destroying one leaves about 2 MB behind, so a program that
// starts and stops the runtime in a loop would otherwise grow without bound.
// What a run leaves in them (cown values, imported modules) is there for
// the next run's worker of the same index.
#pragma once

#include <Python.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "../interpreters.h"

namespace boc::python {

class InterpreterPool {
 public:
  static constexpr std::size_t capacity = 1024;  // boc.start()'s limit on workers

  static InterpreterPool& instance();

  // True if this CPython gives sub-interpreters their own lock (3.12+ with
  // the interpreter lock; a free-threaded build has none to give).
  static constexpr bool available() noexcept {
#ifdef Py_GIL_DISABLED
    return false;
#else
    return PY_VERSION_HEX >= 0x030C0000;
#endif
  }

  // Makes sure interpreters 0..n-1 exist, and that each sees the main
  // interpreter's sys.path. `described` is the pickle of (schedulers(),
  // executors()) for the module bodies there see. Main interpreter's lock
  // held; raises a Python error (as nanobind::python_error) if one cannot
  // be made.
  void prepare(std::size_t n, const std::string& described);

  InterpreterLocal& at(std::size_t k) noexcept { return *entries_[k].load(std::memory_order_acquire); }
  // The pool interpreter `interpreter` is, else null. Any thread.
  InterpreterLocal* find(PyInterpreterState* interpreter) const noexcept;
  // True if `type` is boc's cown type in one of the pool's interpreters.
  bool is_cown_type(PyTypeObject* type) const noexcept;

  // Destroys every interpreter, with no run under "subinterpreters" in
  // progress (main interpreter's lock held). Before a fork() (CPython cannot fork a process that has
  // sub-interpreters: the child crashes), the values that live in them are
  // brought into the main interpreter first; at interpreter exit they are
  // lost. Later runs make new interpreters. A worker of a run
  // given up at exit that is still in a body is interrupted first
  // (KeyboardInterrupt, as Ctrl-C does to the main thread); if one does not
  // leave within a second (blocked outside Python), the process ends by
  // SIGINT at once.
  void close(bool bring_values_home);
  // Every value that lives in the interpreters leaves them for transit (or
  // is lost, if it does not pickle); the interpreters stay. Main
  // interpreter's lock held, no run in progress.
  void evict_values();
  // In a forked child: the parent's interpreters cannot be entered here
  // (their locks may be held by threads that do not exist; CPython has
  // cleared them). The child gets a pool of its own, whose later runs make
  // new ones; the copy is left alone.
  static void replace_in_child();

 private:
  static InterpreterPool*& slot();
  // Makes interpreter k, on the keeper thread; false with a Python error set.
  bool make(std::size_t k, const std::vector<std::string>& path, const std::string& described);
  // True once no worker is in interpreters 0..n-1, after interrupting those
  // that are and waiting a second for them to leave.
  bool drive_out_workers(std::size_t n);

  std::mutex mutex_;  // one prepare() or close() at a time
  // Filled in order and read without the mutex: release/acquire publishes
  // each entry complete.
  std::array<std::atomic<InterpreterLocal*>, capacity> entries_{};
  std::atomic<std::size_t> size_{0};
  // The thread state each was made with, kept until it is destroyed with it
  // (see keeper.h). Only the keeper thread uses them.
  std::array<PyThreadState*, capacity> made_with_{};
};

}  // namespace boc::python
