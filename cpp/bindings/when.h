// boc.when in C++: it runs once per behaviour, so its checks and the
// scheduling itself stay out of the interpreter.
#pragma once

#include <nanobind/nanobind.h>

namespace boc::python {

void bind_when(nanobind::module_& m);

}  // namespace boc::python
