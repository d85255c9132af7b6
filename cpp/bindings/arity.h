// Whether a body takes one positional argument per argument of when().
#pragma once

#include <Python.h>

namespace boc::python {

// Accepts at once a plain function (or a method of one) that takes `count`
// positional arguments; anything else goes to boc.signature.check_arity,
// which knows every other kind of callable and words the errors. False with
// TypeError set if `fn` does not fit. Any interpreter, its lock held.
bool check_arity(PyObject* fn, Py_ssize_t count);

}  // namespace boc::python
