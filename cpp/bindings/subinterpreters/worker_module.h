// boc._core as bodies in a sub-interpreter see it: the nanobind module cannot
// load there (it keeps one state for the whole process), so each pool
// interpreter gets a small module of its own, written against the C API,
// before anything imports boc there. It has boc.Cown and boc.when for bodies
// (nested behaviours, new cowns) and refuses what only the main interpreter
// does (start, wait, ...).
#pragma once

#include <Python.h>

#include "../shared_cown.h"

namespace boc::python {

class InterpreterLocal;

// Makes the module in `local`'s interpreter (its lock held) and installs it
// as sys.modules["boc._core"]; sets local.module and local.cown_type.
// `schedulers`, `executors` and `unavailable_executors` (objects of that
// interpreter) are what its functions of those names return. False with a
// Python error set on failure.
bool install_worker_module(InterpreterLocal& local, PyObject* schedulers, PyObject* executors,
                           PyObject* unavailable_executors);

// The boc.Cown object for `c` in pool interpreter `here` (lock held): the
// one it has, else a new one; a new reference, or null with an error set.
PyObject* wrap_worker_cown(InterpreterLocal& here, const SharedCownRef& c);
// The cown of `o` if it is a boc.Cown of the pool interpreter whose cown
// type is `type`; reads only `o`'s own fields, from any thread.
const SharedCownRef* worker_cown_of(PyTypeObject* type, PyObject* o) noexcept;

}  // namespace boc::python
