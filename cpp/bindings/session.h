// Which run of the runtime the Python process drives now, and the last one
// that ended.
#pragma once

#include <nanobind/nanobind.h>

#include <memory>
#include <mutex>

#include "run.h"

namespace boc::python {

class Session {
 public:
  // The run in progress (running, or being stopped), else null.
  std::shared_ptr<Run> current();
  // The run that ended last, else null.
  std::shared_ptr<Run> last();

  // Makes `fresh` the run in progress and starts its workers, unless a run
  // is in progress already (then false, and `fresh` is left alone).
  bool install(const std::shared_ptr<Run>& fresh);
  // `run` has ended; it becomes the last run.
  void retire(const std::shared_ptr<Run>& run);
  // Forgets the run in progress without stopping or destroying it: it is
  // given up (Ctrl-C at exit) or belongs to the parent of a fork. Null if none.
  Run* give_up_current();

  // From boc's exit hook on: no run starts again.
  void close_for_exit();
  bool exiting();
  // Drops the last run's report (its errors may hold user objects).
  void forget_last();

 private:
  // Guards the fields; held only to read or swap them, never across a call
  // into Python (dropping a run may run Python code, so that happens after
  // the lock is let go).
  std::mutex mutex_;
  std::shared_ptr<Run> current_;
  std::shared_ptr<Run> last_;
  bool exiting_ = false;
};

// Lives for the whole process (never destroyed: the interpreter may be gone
// by the time static destructors run).
Session& session();

// True on a thread that is running a behaviour (of any runtime).
bool in_behaviour() noexcept;

// The run in progress for a caller that schedules now, started with the
// defaults if none is; RuntimeError if none can be.
std::shared_ptr<Run> run_for_scheduling();

// Schedules `b` on `run`, RuntimeError if the run no longer takes work from
// this thread (it is being stopped).
void schedule(Run& run, Behaviour* b);

void bind_session(nanobind::module_& m);

}  // namespace boc::python
