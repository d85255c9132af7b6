#include "executors.h"

#include "errors.h"
#include "subinterpreters/pool.h"

namespace boc::python {

std::vector<std::pair<std::string, std::string>> available_executors() {
  std::vector<std::pair<std::string, std::string>> out;
#ifdef Py_GIL_DISABLED
  out.emplace_back("threads",
                   "worker threads in this interpreter, which has no interpreter lock: runs any code, Python bodies "
                   "in parallel");
#else
  out.emplace_back("threads",
                   "worker threads in this interpreter: runs any code, one Python body at a time (the interpreter lock)");
#endif
  if (InterpreterPool::available()) {
    out.emplace_back("subinterpreters",
                     "one sub-interpreter with its own lock per worker: Python bodies run in parallel, cown values "
                     "move between interpreters");
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> unavailable_executors() {
  std::vector<std::pair<std::string, std::string>> out;
  if (!InterpreterPool::available()) {
#ifdef Py_GIL_DISABLED
    // Sub-interpreters here have no lock of their own to run in parallel
    // under, and every visit between interpreters assumes that lock.
    out.emplace_back("subinterpreters",
                     "this CPython is free-threaded: there is no interpreter lock for a sub-interpreter to own, and "
                     "'threads' runs Python bodies in parallel here");
#else
    out.emplace_back("subinterpreters", "it needs CPython 3.12 or later (sub-interpreters with their own lock)");
#endif
  }
  return out;
}

Executor executor_named(const std::string& name) {
  if (name == "threads") return Executor::threads;
  if (name == "subinterpreters" && InterpreterPool::available()) return Executor::subinterpreters;
  std::string names;
  for (const auto& [n, description] : available_executors()) names += (names.empty() ? "" : ", ") + n;
  std::string message = "unknown executor '" + name + "'; available in this interpreter: " + names;
  for (const auto& [n, why] : unavailable_executors()) {
    if (n == name) {
      message = "executor '" + name + "' is not available here: " + why + "; available in this interpreter: " + names;
    }
  }
  raise(PyExc_ValueError, message);
}

const char* name_of(Executor e) noexcept { return e == Executor::threads ? "threads" : "subinterpreters"; }

}  // namespace boc::python
