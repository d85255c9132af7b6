// A behaviour whose Python body runs in the sub-interpreter of the worker
// that runs it (executor="subinterpreters").
//
// It holds no Python object: its body and captures travel as a
// TravellingBody, its cowns as SharedCowns, so any thread may make, run or
// drop it. The body finds each cown's value where it lives and brings it
// into its own interpreter on first use (ValueSlot::get).
#pragma once

#include <Python.h>

#include <span>
#include <vector>

#include "boc/behaviour.h"
#include "boc/worker.h"
#include "function_transport.h"

namespace boc::python {

class Run;

// The run whose behaviour the calling thread runs in a sub-interpreter,
// else null: what boc.when() inside such a body schedules on.
Run*& current_sub_run();

class SubinterpreterBehaviour final : public Behaviour {
 public:
  // `args`: the cowns of when()'s arguments in order, groups flattened;
  // `shape`: per argument, -1 for a cown, else the size of its group;
  // `carried`: when some argument is an instance of a Cown subclass, the
  // arguments themselves, which then arrive as instances of their classes.
  SubinterpreterBehaviour(Run& run, std::span<Cown* const> cowns, TravellingBody body,
                          recycler::Vector<SharedCownRef> args, recycler::Vector<int> shape,
                          std::optional<Portable> carried, SharedCownRef result);

  void run() override;

 private:
  PyObject* arguments(InterpreterLocal& here) const;
  void record(PyObject* exception, InterpreterLocal& here, std::size_t worker);

  Run& run_;
  TravellingBody body_;
  // Filled by the scheduling thread and freed by the worker: recycled.
  recycler::Vector<SharedCownRef> args_;
  recycler::Vector<int> shape_;
  std::optional<Portable> carried_;
  SharedCownRef result_;
};

// fn(*call_args) as a SubinterpreterBehaviour of `run`, made in `here`
// (lock held); call_args holds checked cowns of `here` and lists of them.
// Sets *result to the new result cown (an object of `here`). Null with an
// error set if the body cannot travel.
SubinterpreterBehaviour* make_subinterpreter_behaviour(Run& run, InterpreterLocal& here, PyObject* call_args,
                                                       PyObject* fn, PyObject** result);

// Schedules such a behaviour from inside a body in a sub-interpreter and
// returns its result cown; null with an error set.
PyObject* schedule_in_subinterpreter(Run& run, InterpreterLocal& here, PyObject* call_args, PyObject* fn);

// Kept by each worker of a run under "subinterpreters": a thread state in
// its pool interpreter, whose lock it holds only while a body runs, so that
// another worker (or the main thread) moving a value out of this
// interpreter waits at most for one body. The thread state itself is
// dropped whenever the worker goes to sleep, so that an idle interpreter
// has no thread of ours in it and can be destroyed at exit even if the
// worker never wakes again (a run given up by Ctrl-C).
class SubinterpreterWorker final : public WorkerResource {
 public:
  static SubinterpreterWorker& of(WorkerContext& w);

  InterpreterLocal& local() noexcept { return local_; }
  void hold();
  // A context with no variable, reused while bodies leave it empty.
  PyObject* empty_context();
  void after_empty_context() noexcept;

  void after_behaviour() noexcept override { let_go(); }
  void suspend() noexcept override { leave(); }
  void retire() noexcept override;

 private:
  explicit SubinterpreterWorker(InterpreterLocal& local) : local_(local) {}
  void let_go() noexcept;
  // Drops the thread state (and so the lock).
  void leave() noexcept;

  InterpreterLocal& local_;
  PyThreadState* thread_state_ = nullptr;
  PyObject* empty_context_ = nullptr;
  bool held_ = false;
};

}  // namespace boc::python
