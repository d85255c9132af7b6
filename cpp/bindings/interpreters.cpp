#include "interpreters.h"

#include <chrono>

#include "py_cown.h"
#include "subinterpreters/pool.h"
#include "subinterpreters/worker_module.h"

namespace boc::python {

InterpreterLocal* detail::make_main_local() { return new InterpreterLocal(PyInterpreterState_Main(), -1); }

InterpreterLocal& current_local() {
  PyInterpreterState* interpreter = PyInterpreterState_Get();
  // Cached by id, which no later interpreter reuses (a new one may reuse
  // the address of one that was destroyed).
  const std::int64_t id = PyInterpreterState_GetID(interpreter);
  thread_local std::int64_t last = -1;
  thread_local InterpreterLocal* last_local = nullptr;
  if (id == last) return *last_local;
  InterpreterLocal* found = interpreter == PyInterpreterState_Main() ? &main_local()
                                                                       : InterpreterPool::instance().find(interpreter);
  if (found == nullptr) Py_FatalError("boc: running in an interpreter it did not make");
  last = id;
  last_local = found;
  return *found;
}

void InterpreterLocal::discard(PyObject* o) noexcept {
  if (holds_lock_of(*this)) {
    Py_DECREF(o);
    return;
  }
  {
    std::lock_guard<std::mutex> guard(garbage_mutex_);
    garbage_.push_back(o);
  }
  // Release: pairs with the acquire in collect(), so a collector that sees
  // the flag also sees the object in the list.
  has_garbage_.store(true, std::memory_order_release);
  // The main interpreter has no worker of its own to collect after each
  // behaviour: its main thread does, at its next chance to run Python.
  // acq_rel: one discard schedules the collection; collect() clears the flag
  // before it takes the list, so a later discard schedules another.
  if (is_main() && !collection_scheduled_.exchange(true, std::memory_order_acq_rel)) {
    const int added = Py_AddPendingCall(
        [](void*) -> int {
          main_local().collect();
          return 0;
        },
        nullptr);
    if (added != 0) collection_scheduled_.store(false, std::memory_order_release);  // full: the next discard tries again
  }
}

void InterpreterLocal::collect() noexcept {
  collection_scheduled_.store(false, std::memory_order_release);
  if (!has_garbage_.load(std::memory_order_acquire)) return;
  std::vector<PyObject*> taken;
  {
    std::lock_guard<std::mutex> guard(garbage_mutex_);
    taken.swap(garbage_);
    has_garbage_.store(false, std::memory_order_relaxed);
  }
  // Outside the lock: a finaliser may discard more.
  for (PyObject* o : taken) Py_DECREF(o);
}

void InterpreterLocal::worker_entered() noexcept {
  // Release/acquire: whoever reads the id may interrupt that thread state,
  // which exists by then.
  worker_thread_.store(PyThread_get_thread_ident(), std::memory_order_release);
}

void InterpreterLocal::worker_left() noexcept { worker_thread_.store(0, std::memory_order_release); }

void InterpreterLocal::add_resident(SharedCown* c) {
  std::lock_guard<std::mutex> guard(residents_mutex_);
  residents_.insert(c);
}

void InterpreterLocal::remove_resident(SharedCown* c) noexcept {
  std::lock_guard<std::mutex> guard(residents_mutex_);
  residents_.erase(c);
}

void InterpreterLocal::evict_residents(bool keep_values, const char* why) noexcept {
  // Each cown is kept alive while its value is evicted, outside the lock:
  // pickling runs Python code, which may let go of this interpreter's lock
  // to a thread of its own that drops (or makes) a cown here. One whose
  // last reference is going already is left to its destructor.
  std::vector<SharedCown*> kept;
  {
    std::lock_guard<std::mutex> guard(residents_mutex_);
    kept.reserve(residents_.size());
    for (SharedCown* c : residents_) {
      if (c->try_retain()) kept.push_back(c);
    }
    residents_.clear();
  }
  for (SharedCown* c : kept) {
    c->value().evict(*this, keep_values, why);
    c->release();  // may be the last reference: this interpreter's lock is held
  }
}

PyObject* InterpreterLocal::transport(const char* name) {
  if (transport_ == nullptr) {
    transport_ = PyImport_ImportModule("boc._transport");
    if (transport_ == nullptr) return nullptr;
  }
  // The module keeps its functions: a borrowed reference suffices.
  PyObject* fn = PyObject_GetAttrString(transport_, name);
  if (fn != nullptr) Py_DECREF(fn);
  return fn;
}

PyObject* InterpreterLocal::wrap(const SharedCownRef& c) {
  return is_main() ? wrap_main_cown(c) : wrap_worker_cown(*this, c);
}

const SharedCownRef* InterpreterLocal::unwrap(PyObject* o) const {
  return is_main() ? main_cown_of(o) : worker_cown_of(cown_type, o);
}

bool InterpreterLocal::is_exact_cown(PyObject* o) noexcept {
  PyTypeObject* type = Py_TYPE(o);
  if (type == main_cown_type()) return main_cown_of(o) != nullptr;
  return InterpreterPool::instance().is_cown_type(type) && worker_cown_of(type, o) != nullptr;
}

const SharedCownRef* InterpreterLocal::cown_of_exact(PyObject* o) noexcept {
  PyTypeObject* type = Py_TYPE(o);
  return type == main_cown_type() ? main_cown_of(o) : worker_cown_of(type, o);
}

void InterpreterLocal::clear_caches() noexcept {
  for (auto& [code, made_here] : made) Py_DECREF(code);
  made.clear();
  for (auto& [recipe, l] : loaded) {
    Py_XDECREF(l.code);
    Py_XDECREF(l.globals);
    Py_XDECREF(l.plain);
    Py_XDECREF(l.spare);
  }
  loaded.clear();
  Py_CLEAR(transport_);
}

Visit::Visit(InterpreterLocal& there) : own_(PyEval_SaveThread()), visiting_(PyThreadState_New(there.interpreter())) {
  // Counted while waiting, for let_visitors_in(). Release/acquire: the
  // holder that sees the count also sees this thread waiting.
  there.visitors_.fetch_add(1, std::memory_order_release);
  PyEval_RestoreThread(visiting_);
  if (there.visitors_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    { std::lock_guard<std::mutex> guard(there.visitors_mutex_); }  // no lost wake-up
    there.visitors_in_.notify_all();
  }
}

void InterpreterLocal::let_visitors_in() {
  if (visitors_.load(std::memory_order_acquire) == 0) return;
  PyThreadState* mine = PyEval_SaveThread();
  {
    // Those waiting now take the lock in turn; a short wait in any case, as
    // more may keep arriving.
    std::unique_lock<std::mutex> lock(visitors_mutex_);
    visitors_in_.wait_for(lock, std::chrono::milliseconds(1),
                          [this] { return visitors_.load(std::memory_order_acquire) == 0; });
  }
  PyEval_RestoreThread(mine);
}

Visit::~Visit() {
  PyThreadState_Clear(visiting_);
  PyThreadState_DeleteCurrent();  // also lets go of `there`'s lock
  PyEval_RestoreThread(own_);
}

std::string take_error_text() {
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  std::string text;
  PyObject* str = value != nullptr ? PyObject_Str(value) : nullptr;
  const char* message = str != nullptr ? PyUnicode_AsUTF8(str) : nullptr;
  if (message == nullptr) {
    PyErr_Clear();
    message = "(no message)";
  }
  if (type != PyExc_TypeError) text = std::string(reinterpret_cast<PyTypeObject*>(type)->tp_name) + ": ";
  text += message;
  Py_XDECREF(str);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(traceback);
  return text;
}

}  // namespace boc::python
