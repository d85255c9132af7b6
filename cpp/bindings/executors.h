// The executor: how a Python body runs on the worker that runs it, the
// second axis beside the scheduler.
//
//   threads          python_behaviour.cpp, python_worker.cpp
//   subinterpreters  subinterpreters/ (CPython 3.12+)
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace boc::python {

enum class Executor { threads, subinterpreters };

// The executors this interpreter has, in order: (name, one-line description).
std::vector<std::pair<std::string, std::string>> available_executors();

// The executors boc has that this interpreter cannot run: (name, why not).
std::vector<std::pair<std::string, std::string>> unavailable_executors();

// The executor called `name`; ValueError naming the available ones if none is.
Executor executor_named(const std::string& name);
const char* name_of(Executor e) noexcept;

}  // namespace boc::python
