#include "behaviour.h"

#include <utility>

#include "../interpreter_exit.h"
#include "../interpreters.h"
#include "../py_cown.h"
#include "../raised.h"
#include "../run.h"
#include "pool.h"

namespace boc::python {

Run*& current_sub_run() {
  thread_local Run* run = nullptr;
  return run;
}

namespace {
thread_local SubinterpreterWorker* this_worker = nullptr;
}

SubinterpreterWorker& SubinterpreterWorker::of(WorkerContext& w) {
  if (this_worker == nullptr) {
    this_worker = new SubinterpreterWorker(InterpreterPool::instance().at(w.index()));
    w.add_resource(this_worker);
  }
  return *this_worker;
}

void SubinterpreterWorker::hold() {
  if (python_abandoned()) {
    leave();
    park_forever();
  }
  if (held_) return;
  if (thread_state_ == nullptr) {
    local_.worker_entered();  // before the thread state exists: see InterpreterPool::close
    thread_state_ = PyThreadState_New(local_.interpreter());
  }
  PyEval_RestoreThread(thread_state_);
  held_ = true;
}

PyObject* SubinterpreterWorker::empty_context() {
  if (empty_context_ == nullptr) empty_context_ = PyContext_New();
  return empty_context_;
}

void SubinterpreterWorker::after_empty_context() noexcept {
  const Py_ssize_t size = PyObject_Length(empty_context_);
  if (size != 0) {
    if (size < 0) PyErr_Clear();
    Py_CLEAR(empty_context_);
  }
}

void SubinterpreterWorker::let_go() noexcept {
  if (!held_) return;
  local_.collect();
  PyEval_SaveThread();
  held_ = false;
}

void SubinterpreterWorker::leave() noexcept {
  if (thread_state_ == nullptr) return;
  if (!held_) PyEval_RestoreThread(thread_state_);
  local_.collect();
  PyThreadState_Clear(thread_state_);
  PyThreadState_DeleteCurrent();  // also lets go of the interpreter's lock
  thread_state_ = nullptr;
  held_ = false;
  local_.worker_left();
}

void SubinterpreterWorker::retire() noexcept {
  if (thread_state_ != nullptr || empty_context_ != nullptr) {
    hold();
    Py_CLEAR(empty_context_);
    leave();
  }
  this_worker = nullptr;
  delete this;
}

SubinterpreterBehaviour::SubinterpreterBehaviour(Run& run, std::span<Cown* const> cowns, TravellingBody body,
                                                 recycler::Vector<SharedCownRef> args, recycler::Vector<int> shape,
                                                 std::optional<Portable> carried, SharedCownRef result)
    : Behaviour(cowns),
      run_(run),
      body_(std::move(body)),
      args_(std::move(args)),
      shape_(std::move(shape)),
      carried_(std::move(carried)),
      result_(std::move(result)) {}

PyObject* SubinterpreterBehaviour::arguments(InterpreterLocal& here) const {
  if (carried_) return carried_->make(here);
  PyObject* args = PyTuple_New(static_cast<Py_ssize_t>(shape_.size()));
  if (args == nullptr) return nullptr;
  std::size_t next = 0;
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    PyObject* item;
    if (shape_[i] < 0) {
      item = here.wrap(args_[next++]);
    } else {
      item = PyList_New(shape_[i]);
      for (int j = 0; item != nullptr && j < shape_[i]; ++j) {
        PyObject* c = here.wrap(args_[next++]);
        if (c == nullptr) {
          Py_CLEAR(item);
        } else {
          PyList_SET_ITEM(item, j, c);
        }
      }
    }
    if (item == nullptr) {
      Py_DECREF(args);
      return nullptr;
    }
    PyTuple_SET_ITEM(args, static_cast<Py_ssize_t>(i), item);
  }
  return args;
}

void SubinterpreterBehaviour::record(PyObject* exception, InterpreterLocal& here, std::size_t worker) {
  // Tracebacks do not travel: the worker's goes along as a note.
  if (PyObject* note = here.transport("note_traceback")) {
    PyObject* done = PyObject_CallFunction(note, "On", exception, static_cast<Py_ssize_t>(worker));
    if (done == nullptr) PyErr_Clear();
    Py_XDECREF(done);
  } else {
    PyErr_Clear();
  }
  TravellingError error{Portable::pickle(exception, here), {}, result_};
  if (!error.copy) error.text = take_error_text();
  run_.record_error(std::move(error));
}

void SubinterpreterBehaviour::run() {
  WorkerContext& context = *WorkerContext::current();
  SubinterpreterWorker& worker = SubinterpreterWorker::of(context);
  worker.hold();
  InterpreterLocal& here = worker.local();
  current_python_behaviour() = this;
  current_sub_run() = &run_;
  begin_counted_behaviour(&run_.moves(context.index()), context.trace(), trace_id());

  PyObject* value = nullptr;
  PyObject* fn = arrive(body_, here);
  PyObject* args = fn != nullptr ? arguments(here) : nullptr;
  if (args != nullptr) {
    PyObject* ctx = worker.empty_context();
    if (ctx != nullptr && PyContext_Enter(ctx) == 0) {
      value = PyObject_Call(fn, args, nullptr);
      PyObject* raised = value == nullptr ? take_raised_exception() : nullptr;
      if (PyContext_Exit(ctx) != 0) PyErr_Clear();
      worker.after_empty_context();
      if (raised != nullptr) restore_raised_exception(raised);
    }
  }
  if (value != nullptr) {
    (void)result_->value().set(value, here);  // the result cown: only this behaviour has used it
  } else {
    PyObject* exception = take_raised_exception();
    if (exception == nullptr) {  // a failure that set no error: say so rather than lose it
      PyErr_SetString(PyExc_SystemError, "a behaviour failed in a sub-interpreter without an exception");
      exception = take_raised_exception();
    }
    record(exception, here, context.index());
    (void)result_->value().set(exception, here);
    result_->set_raised(true);
  }
  Py_XDECREF(args);
  if (fn != nullptr) depart(body_, fn, here);
  current_python_behaviour() = nullptr;
  current_sub_run() = nullptr;
  end_counted_behaviour();
}

SubinterpreterBehaviour* make_subinterpreter_behaviour(Run& run, InterpreterLocal& here, PyObject* call_args,
                                                       PyObject* fn, PyObject** result) {
  std::optional<TravellingBody> body = travelling_body(fn, here);
  if (!body) return nullptr;
  recycler::Vector<SharedCownRef> args;
  recycler::Vector<int> shape;
  std::vector<Cown*> cowns;
  PyTypeObject* exact = here.is_main() ? main_cown_type() : here.cown_type;
  bool subclassed = false;
  auto add = [&](PyObject* c) {
    args.push_back(*here.unwrap(c));
    subclassed |= Py_TYPE(c) != exact;
  };
  const Py_ssize_t n = PyTuple_GET_SIZE(call_args);
  std::size_t count = 0;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* a = PyTuple_GET_ITEM(call_args, i);
    count += PyList_CheckExact(a) ? static_cast<std::size_t>(PyList_GET_SIZE(a)) : 1;
  }
  args.reserve(count);
  shape.reserve(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* a = PyTuple_GET_ITEM(call_args, i);
    if (PyList_CheckExact(a)) {
      shape.push_back(static_cast<int>(PyList_GET_SIZE(a)));
      for (Py_ssize_t j = 0; j < PyList_GET_SIZE(a); ++j) add(PyList_GET_ITEM(a, j));
    } else {
      shape.push_back(-1);
      add(a);
    }
  }
  std::optional<Portable> carried;
  if (subclassed) {
    carried = Portable::pickle(call_args, here);
    if (!carried) return nullptr;  // TypeError naming the class that did not pickle
  }
  cowns.reserve(args.size() + 1);
  for (const SharedCownRef& c : args) cowns.push_back(c->core());
  SharedCownRef out = SharedCown::make(Py_NewRef(Py_None), here);
  cowns.push_back(out->core());
  PyObject* wrapped = here.wrap(out);
  if (wrapped == nullptr) return nullptr;
  *result = wrapped;
  return new SubinterpreterBehaviour(run, cowns, std::move(*body), std::move(args), std::move(shape),
                                     std::move(carried), std::move(out));
}

PyObject* schedule_in_subinterpreter(Run& run, InterpreterLocal& here, PyObject* call_args, PyObject* fn) {
  PyObject* result = nullptr;
  SubinterpreterBehaviour* b = make_subinterpreter_behaviour(run, here, call_args, fn, &result);
  if (b == nullptr) return nullptr;
  try {
    run.runtime().schedule(b);  // a worker's: never refused
  } catch (const std::exception& e) {
    Py_DECREF(result);
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  return result;
}

}  // namespace boc::python
