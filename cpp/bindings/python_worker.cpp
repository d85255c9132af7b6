#include "python_worker.h"

#include <chrono>

namespace boc::python {

namespace {
thread_local PythonWorker* this_worker = nullptr;

// How long a worker may keep the lock across behaviours before it lets
// other threads (the main thread, other workers) have a turn.
constexpr std::int64_t hold_budget_ns = 1'000'000;

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
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
  ran_python_ = true;
  if (held_) return;
  PyEval_RestoreThread(thread_state_);
  held_ = true;
  held_since_ns_ = now_ns();
}

void PythonWorker::let_go() noexcept {
  if (!held_) return;
  PyEval_SaveThread();
  held_ = false;
}

void PythonWorker::after_behaviour() noexcept {
  if (!held_) return;
  if (!ran_python_ || now_ns() - held_since_ns_ > hold_budget_ns) let_go();
  ran_python_ = false;
}

void PythonWorker::retire() noexcept {
  if (!held_) PyEval_RestoreThread(thread_state_);
  PyThreadState_Clear(thread_state_);
  PyThreadState_DeleteCurrent();  // also releases the lock
  this_worker = nullptr;
  delete this;
}

}  // namespace boc::python
