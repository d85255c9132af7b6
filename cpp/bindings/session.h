// The one runtime a Python process drives at a time, and what Python needs
// to know about it.
#pragma once

#include <nanobind/nanobind.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "boc/runtime.h"

namespace boc::python {

struct Session {
  std::unique_ptr<Runtime> runtime;  // null while nothing runs
  std::chrono::steady_clock::time_point started;
  PyInterpreterState* interpreter = nullptr;
  // Exceptions raised by Python bodies during this run; appended with the
  // interpreter lock held, handed to Python by stop().
  PyObject* errors = nullptr;
  // Cleared once stop() has seen quiescence, so that no new behaviour slips
  // in while the workers wind down. Atomic for free-threaded builds, where
  // schedulers read it without an interpreter lock.
  std::atomic<bool> accepting{false};
};

// Raises Python's RuntimeError with `message`.
[[noreturn]] inline void raise_runtime_error(const std::string& message) {
  throw nanobind::builtin_exception(nanobind::exception_type::runtime_error, message.c_str());
}

// Lives for the whole process (never destroyed: the interpreter may be gone
// by the time static destructors run).
Session& session();

// The running runtime, or a RuntimeError for a caller that schedules now.
Runtime& runtime_for_scheduling();

void bind_session(nanobind::module_& m);

}  // namespace boc::python
