// boc._core: the runtime core, seen from Python.
#include <nanobind/nanobind.h>
#include <nanobind/stl/vector.h>

#include <vector>

#include "boc/native_bodies.h"
#include "py_cown.h"
#include "python_behaviour.h"
#include "session.h"

namespace nb = nanobind;

namespace boc::python {
namespace {

// The cowns of a call: each argument is a boc.Cown or a list of them
// (boc.when has checked the shapes).
void collect_cowns(nb::handle args, std::vector<Cown*>& out) {
  for (nb::handle a : args) {
    if (PyList_CheckExact(a.ptr())) {
      for (nb::handle c : a) out.push_back(nb::inst_ptr<PyCown>(c)->core.get());
    } else {
      out.push_back(nb::inst_ptr<PyCown>(a)->core.get());
    }
  }
}

void schedule_python(nb::callable fn, nb::tuple args, nb::handle result) {
  Runtime& rt = runtime_for_scheduling();
  std::vector<Cown*> cowns;
  cowns.reserve(nb::len(args) + 1);
  collect_cowns(args, cowns);
  cowns.push_back(nb::inst_ptr<PyCown>(result)->core.get());
  rt.schedule(new PythonBehaviour(cowns, fn.ptr(), args.ptr(), result.ptr()));
}

std::vector<Cown*> cores_of(const std::vector<PyCown*>& cowns) {
  std::vector<Cown*> out;
  for (PyCown* c : cowns) out.push_back(c->core.get());
  return out;
}

}  // namespace
}  // namespace boc::python

NB_MODULE(_core, m) {
  using namespace boc;
  using namespace boc::python;
  m.doc() = "The boc runtime core (C++), as used by the boc package.";

  bind_cown(m);
  bind_session(m);

  m.def("schedule", &schedule_python, nb::arg("fn"), nb::arg("args"), nb::arg("result"),
        "Schedules fn(*args) on the cowns in args (Cowns or lists of Cowns), storing its result in `result`.");

  m.def(
      "spin",
      [](const std::vector<PyCown*>& cowns, std::uint64_t ns) {
        runtime_for_scheduling().schedule(new SpinBehaviour(cores_of(cowns), ns));
      },
      nb::arg("cowns"), nb::arg("ns"));
  m.def(
      "loop",
      [](const std::vector<PyCown*>& cowns, std::uint64_t times, std::uint64_t ns) {
        runtime_for_scheduling().schedule(new LoopBehaviour(cores_of(cowns), times, ns));
      },
      nb::arg("cowns"), nb::arg("times"), nb::arg("ns"));
  m.def(
      "fanout",
      [](PyCown& state, std::uint64_t steps, std::uint64_t children, std::uint64_t child_ns) {
        runtime_for_scheduling().schedule(new FanoutBehaviour(state.core.get(), steps, children, child_ns));
      },
      nb::arg("state"), nb::arg("steps"), nb::arg("children"), nb::arg("child_ns"));
}
