// boc._core: the runtime core, seen from Python.
#include <nanobind/nanobind.h>
#include <nanobind/stl/vector.h>

#include <vector>

#include "boc/native_bodies.h"
#include "py_cown.h"
#include "session.h"
#include "when.h"

namespace nb = nanobind;

namespace boc::python {
namespace {

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
  bind_when(m);


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
