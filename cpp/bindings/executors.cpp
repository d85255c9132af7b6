#include "executors.h"

#include "errors.h"
#include "subinterpreters/pool.h"

namespace boc::python {

std::vector<std::pair<std::string, std::string>> available_executors() {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("threads",
                   "worker threads in this interpreter: runs any code, one Python body at a time (the interpreter lock)");
  if (InterpreterPool::available()) {
    out.emplace_back("subinterpreters",
                     "one sub-interpreter with its own lock per worker: Python bodies run in parallel, cown values "
                     "move between interpreters");
  }
  return out;
}

Executor executor_named(const std::string& name) {
  if (name == "threads") return Executor::threads;
  if (name == "subinterpreters" && InterpreterPool::available()) return Executor::subinterpreters;
  std::string names;
  for (const auto& [n, description] : available_executors()) names += (names.empty() ? "" : ", ") + n;
  std::string message = "unknown executor '" + name + "'; available in this interpreter: " + names;
  if (name == "subinterpreters") {
    message = "executor 'subinterpreters' needs CPython 3.12 or later (sub-interpreters with their own lock); "
              "available in this interpreter: " + names;
  }
  raise(PyExc_ValueError, message);
}

const char* name_of(Executor e) noexcept { return e == Executor::threads ? "threads" : "subinterpreters"; }

}  // namespace boc::python
