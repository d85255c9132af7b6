// The strategy interface: the one place where scheduling policies differ.
//
// The core owns the worker loop, the terminator, body execution and cown
// release; a strategy only decides where a runnable behaviour waits and
// which worker runs it next.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "boc/behaviour.h"
#include "boc/trace.h"
#include "boc/worker.h"

namespace boc {

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Called once, before any worker starts, with the number of workers
  // (their indices are 0 .. workers-1).
  virtual void attach(std::size_t workers) = 0;

  // Makes `b` runnable. `from` is the dispatching worker, or null when the
  // caller is a thread outside the pool. Called concurrently from any thread.
  virtual void dispatch(Behaviour* b, WorkerContext* from) = 0;

  // A runnable behaviour for worker `w`. With `block` false, returns null at
  // once when there is none. With `block` true, parks the worker (counting
  // w.stats().parks) until there is one; returns null only once a stop was
  // requested and no work is left for this worker.
  virtual Behaviour* next(WorkerContext& w, bool block) = 0;

  // Asks every worker to finish: parked workers are woken, and next(w, true)
  // returns null once the queues are drained. Called once, after quiescence.
  virtual void request_stop() = 0;

  // A thread outside the pool starts (true) or stops (false) waiting for
  // quiescence. Most strategies ignore it; one that holds work back until
  // the program waits for it (systematic) opens its gate here.
  virtual void outside_waiting(bool /*waiting*/) {}

  // The ids of the behaviours run so far, in the order they ran, from a
  // strategy that decides that order itself and records it (systematic);
  // nullopt from the others.
  virtual std::optional<std::vector<std::uint64_t>> run_order() const { return std::nullopt; }

  // The strategy's counters are declared in its registration, with where
  // each lives (see strategy.h); the core reads them from there.

 protected:
  // For a trace (see trace.h), when the runtime keeps one; nothing otherwise.
  // The core records dispatches, starts, ends and parks itself (and where a
  // worker found each behaviour, from the source counters); steals only a
  // strategy sees.
  // On the thief's thread: worker `thief` took `taken` behaviours from `victim`.
  void trace_steal(std::size_t thief, std::size_t victim, std::size_t taken) noexcept {
    if (trace_ != nullptr) [[unlikely]] record_steal(thief, victim, taken);
  }

 private:
  friend class Runtime;
  [[gnu::noinline, gnu::cold]] void record_steal(std::size_t thief, std::size_t victim, std::size_t taken) noexcept;

  Trace* trace_ = nullptr;  // set by the runtime before attach()
};

}  // namespace boc
