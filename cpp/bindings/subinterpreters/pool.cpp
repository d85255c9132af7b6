#include "pool.h"

#include <nanobind/nanobind.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../interpreter_exit.h"
#include "../outside_use.h"
#include "keeper.h"
#include "worker_module.h"

namespace nb = nanobind;

namespace boc::python {

InterpreterPool*& InterpreterPool::slot() {
  static InterpreterPool* pool = new InterpreterPool();  // never destroyed: see close()
  return pool;
}

InterpreterPool& InterpreterPool::instance() { return *slot(); }

InterpreterLocal* InterpreterPool::find(PyInterpreterState* interpreter) const noexcept {
  const std::size_t n = size_.load(std::memory_order_acquire);
  for (std::size_t k = 0; k < n; ++k) {
    InterpreterLocal* local = entries_[k].load(std::memory_order_acquire);
    if (local != nullptr && local->interpreter() == interpreter) return local;
  }
  return nullptr;
}

bool InterpreterPool::is_cown_type(PyTypeObject* type) const noexcept {
  const std::size_t n = size_.load(std::memory_order_acquire);
  for (std::size_t k = 0; k < n; ++k) {
    const InterpreterLocal* local = entries_[k].load(std::memory_order_acquire);
    if (local != nullptr && local->ready() && local->cown_type == type) return true;
  }
  return false;
}

#if PY_VERSION_HEX >= 0x030C0000

namespace {

// A list of `strings` in the calling thread's interpreter as sys.path.
bool set_path(const std::vector<std::string>& strings) {
  PyObject* path = PyList_New(0);
  if (path == nullptr) return false;
  for (const std::string& s : strings) {
    PyObject* item = PyUnicode_DecodeFSDefaultAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
    if (item == nullptr || PyList_Append(path, item) != 0) {
      Py_XDECREF(item);
      Py_DECREF(path);
      return false;
    }
    Py_DECREF(item);
  }
  const int rc = PySys_SetObject("path", path);
  Py_DECREF(path);
  return rc == 0;
}

// The main interpreter's sys.path (its lock held), so that workers import
// what the program imports.
std::vector<std::string> main_path() {
  std::vector<std::string> out;
  PyObject* path = PySys_GetObject("path");  // borrowed
  if (path == nullptr || !PyList_Check(path)) return out;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(path); ++i) {
    PyObject* item = PyList_GET_ITEM(path, i);
    if (!PyUnicode_Check(item)) continue;
    PyObject* bytes = PyUnicode_EncodeFSDefault(item);
    if (bytes == nullptr) {
      PyErr_Clear();
      continue;
    }
    out.emplace_back(PyBytes_AS_STRING(bytes), static_cast<std::size_t>(PyBytes_GET_SIZE(bytes)));
    Py_DECREF(bytes);
  }
  return out;
}

// A worker holds its interpreter's lock while a body runs; a thread that
// comes to move a value out of that interpreter (another worker, the main
// thread) waits until the body ends, or until the holder is asked to let go,
// a switch interval after the visitor began to wait. CPython's 5 ms would
// idle the visitor for up to 5 ms per move; the worker is the only thread
// of its own there, so a short interval costs it nothing otherwise.
constexpr double switch_interval_s = 100e-6;

bool set_switch_interval() {
  PyObject* sys = PyImport_ImportModule("sys");
  PyObject* done = sys != nullptr ? PyObject_CallMethod(sys, "setswitchinterval", "d", switch_interval_s) : nullptr;
  Py_XDECREF(sys);
  Py_XDECREF(done);
  return done != nullptr;
}

// The module bodies there see, from what `described` says.
bool install_module(InterpreterLocal& local, const std::string& described) {
  PyObject* data = PyBytes_FromStringAndSize(described.data(), static_cast<Py_ssize_t>(described.size()));
  PyObject* pickle = data != nullptr ? PyImport_ImportModule("pickle") : nullptr;
  PyObject* loaded = pickle != nullptr ? PyObject_CallMethod(pickle, "loads", "O", data) : nullptr;
  Py_XDECREF(pickle);
  Py_XDECREF(data);
  if (loaded == nullptr) return false;
  const bool ok = install_worker_module(local, PyTuple_GET_ITEM(loaded, 0), PyTuple_GET_ITEM(loaded, 1),
                                        PyTuple_GET_ITEM(loaded, 2));
  Py_DECREF(loaded);
  return ok;
}

}  // namespace

// On the keeper thread (Keeper::run), main interpreter's lock held.
bool InterpreterPool::make(std::size_t k, const std::vector<std::string>& path, const std::string& described) {
  PyInterpreterConfig config = {};
  config.use_main_obmalloc = 0;
  config.allow_fork = 0;
  config.allow_exec = 0;
  config.allow_threads = 1;
  config.allow_daemon_threads = 0;
  config.check_multi_interp_extensions = 1;
  config.gil = PyInterpreterConfig_OWN_GIL;

  PyThreadState* main_ts = PyThreadState_Get();
  PyThreadState* made = nullptr;
  const PyStatus status = Py_NewInterpreterFromConfig(&made, &config);
  if (PyStatus_Exception(status) || made == nullptr) {
    if (thread_state_or_null() != main_ts) PyEval_RestoreThread(main_ts);
    PyErr_Format(PyExc_RuntimeError, "could not make a sub-interpreter for worker %zu: %s", k,
                 status.err_msg != nullptr ? status.err_msg : "unknown error");
    return false;
  }
  // Now in the new interpreter, holding its lock; the main one's is let go.
  // Published at once: code that runs while it is set up (or torn down, if
  // that fails) asks which interpreter it is in (current_local).
  auto* local = new InterpreterLocal(PyInterpreterState_Get(), static_cast<int>(k));
  entries_[k].store(local, std::memory_order_release);
  size_.store(k + 1, std::memory_order_release);
  // boc._transport imports threading here, with this thread state: see keeper.h.
  if (!set_path(path) || !set_switch_interval() || !install_module(*local, described) ||
      local->transport("dumps") == nullptr) {
    const std::string failure = take_error_text();
    local->clear_caches();
    Py_EndInterpreter(made);
    size_.store(k, std::memory_order_release);
    entries_[k].store(nullptr, std::memory_order_release);
    local->forsake();  // kept, never freed, as in close()
    PyEval_RestoreThread(main_ts);
    PyErr_Format(PyExc_RuntimeError, "could not set up the sub-interpreter of worker %zu: %s", k, failure.c_str());
    return false;
  }
  made_with_[k] = made;
  local->mark_ready();
  PyEval_SaveThread();
  PyEval_RestoreThread(main_ts);
  return true;
}

void InterpreterPool::prepare(std::size_t n, const std::string& described) {
  // Taken without the main interpreter's lock: the holder of mutex_ lets go
  // of that lock and takes it back while it visits pool interpreters, so
  // waiting for mutex_ with it held would deadlock.
  std::unique_lock<std::mutex> guard(mutex_, std::defer_lock);
  {
    nb::gil_scoped_release unlocked;
    guard.lock();
  }
  const std::size_t had = size_.load(std::memory_order_relaxed);
  const std::vector<std::string> path = main_path();
  // Those made before see sys.path as it is now.
  for (std::size_t k = 0; k < std::min(had, n); ++k) {
    Visit visit(at(k));
    if (!set_path(path)) PyErr_Clear();
    at(k).collect();
  }
  // One at a time: making them concurrently is not safe on every supported
  // CPython.
  if (had < n) {
    Keeper::instance().run([&] {
      for (std::size_t k = had; k < n && make(k, path, described); ++k) {
      }
    });
  }
}

void InterpreterPool::evict_values() {
  if (size_.load(std::memory_order_acquire) == 0) return;
  OutsideUse turn;  // as in close()
  std::unique_lock<std::mutex> guard(mutex_, std::defer_lock);
  {
    nb::gil_scoped_release unlocked;  // as in prepare()
    guard.lock();
  }
  for (std::size_t k = 0; k < size_.load(std::memory_order_relaxed); ++k) {
    Visit visit(at(k));
    at(k).evict_residents(true, "it did not pickle, and a run under executor=\"threads\" took it out of the "
                                "sub-interpreter it lived in");
  }
}

bool InterpreterPool::drive_out_workers(std::size_t n) {
  auto busy = [&] {
    std::size_t count = 0;
    for (std::size_t k = 0; k < n; ++k) count += at(k).worker_thread() != 0;
    return count;
  };
  if (busy() == 0) return true;
  for (std::size_t k = 0; k < n; ++k) {
    if (const unsigned long worker = at(k).worker_thread()) {
      Visit visit(at(k));
      PyThreadState_SetAsyncExc(worker, PyExc_KeyboardInterrupt);  // 0 if its thread state is not made yet
    }
  }
  // Without the main interpreter's lock: a worker may want it on its way.
  nb::gil_scoped_release unlocked;
  for (int i = 0; i < 100 && busy() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return busy() == 0;
}

void InterpreterPool::close(bool bring_values_home) {
  // Values that live in the interpreters are not used meanwhile (outside_use.h).
  OutsideUse turn;
  std::unique_lock<std::mutex> guard(mutex_, std::defer_lock);
  {
    nb::gil_scoped_release unlocked;  // as in prepare()
    guard.lock();
  }
  const std::size_t n = size_.load(std::memory_order_relaxed);
  if (n == 0) return;
  // CPython aborts if an interpreter is destroyed, or left at finalisation,
  // with a thread of ours in it; a run given up at exit ends by SIGINT in
  // any case, so with a body blocked outside Python it ends here.
  if (!drive_out_workers(n)) end_by_sigint_now();
  const char* why = bring_values_home
                        ? "it did not pickle, and the sub-interpreter it lived in was destroyed before a fork()"
                        : "it lived in a sub-interpreter that was destroyed at interpreter exit";
  // Each stays findable while it is destroyed (finalisers there ask which
  // interpreter they run in); the pool forgets them all at the end.
  Keeper::instance().run([&] {
    PyThreadState* main_ts = PyThreadState_Get();
    for (std::size_t k = 0; k < n; ++k) {
      InterpreterLocal& local = at(k);
      PyEval_SaveThread();
      PyEval_RestoreThread(made_with_[k]);
      local.evict_residents(bring_values_home, why);
      local.clear_caches();
      local.collect();
      Py_CLEAR(local.module);
      Py_EndInterpreter(made_with_[k]);
      made_with_[k] = nullptr;
      PyEval_RestoreThread(main_ts);
      local.forsake();  // kept, never freed: a slot that named it must still read its flag
    }
  });
  // Entries first: a reader that still sees the old size finds them empty.
  for (std::size_t k = 0; k < n; ++k) entries_[k].store(nullptr, std::memory_order_release);
  size_.store(0, std::memory_order_release);
}

#else

void InterpreterPool::prepare(std::size_t, const std::string&) {
  PyErr_SetString(PyExc_ValueError, "executor 'subinterpreters' needs CPython 3.12 or later");
  throw nb::python_error();
}

void InterpreterPool::close(bool) {}

void InterpreterPool::evict_values() {}

#endif

void InterpreterPool::replace_in_child() {
  InterpreterPool& parents = instance();
  const std::size_t n = parents.size_.load(std::memory_order_acquire);
  for (std::size_t k = 0; k < n; ++k) parents.at(k).forsake();
  slot() = new InterpreterPool();
#if PY_VERSION_HEX >= 0x030C0000
  Keeper::replace_in_child();
#endif
}

}  // namespace boc::python
