// A behaviour whose body is a Python callable.
#pragma once

#include <Python.h>

#include <span>

#include "boc/behaviour.h"

namespace boc::python {

struct PyCown;

class PythonBehaviour final : public Behaviour {
 public:
  // Takes new references to `fn`, `args` and `result`; call with the
  // interpreter lock held.
  PythonBehaviour(std::span<Cown* const> cowns, PyObject* fn, PyObject* args, PyObject* result);
  ~PythonBehaviour() override;

  // Calls fn(*args) and stores its return value (or the exception it raised)
  // in the result cown; drops the Python references while it holds the lock.
  void run() override;

 private:
  void drop_references() noexcept;

  PyObject* fn_;
  PyObject* args_;
  PyObject* result_;  // a boc.Cown instance
};

}  // namespace boc::python
