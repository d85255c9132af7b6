// boc._core: the runtime core, seen from Python.
#include <nanobind/nanobind.h>
#include <nanobind/stl/vector.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "boc/native_bodies.h"
#include "errors.h"
#include "interpreter_exit.h"
#include "py_cown.h"
#include "session.h"
#include "when.h"

namespace nb = nanobind;

namespace boc::python {
namespace {

std::vector<Cown*> cores_of(const std::vector<nb::handle>& cowns) {
  std::vector<Cown*> out;
  for (std::size_t i = 0; i < cowns.size(); ++i) {
    if (!is_initialised_cown(cowns[i])) {
      raise_type_error("argument " + std::to_string(i + 1) + " is " +
                       (nb::isinstance<PyCown>(cowns[i]) ? uninitialised_cown_message(cowns[i])
                                                         : std::string("not a Cown")));
    }
    out.push_back(nb::inst_ptr<PyCown>(cowns[i])->core());
  }
  return out;
}

// Schedules the behaviour `make()` returns, starting the runtime if needed;
// called once the arguments were checked.
template <typename Make>
void schedule_native(Make make) {
  std::shared_ptr<Run> run = run_for_scheduling();
  schedule(*run, make());
}

}  // namespace
}  // namespace boc::python

NB_MODULE(_core, m) {
  using namespace boc;
  using namespace boc::python;
  m.doc() = "The boc runtime core (C++), as used by the boc package.";

  // Objects still alive when the interpreter ends are the user's (held by
  // daemon threads, or by a run given up at exit, which boc reports in its
  // own words); nanobind's warnings about them would read as a bug in boc.
  // BOC_LEAK_WARNINGS=1 turns them on to check that boc itself leaks nothing.
  nb::set_leak_warnings(std::getenv("BOC_LEAK_WARNINGS") != nullptr);

  m.attr("in_worker") = false;  // the module bodies in a sub-interpreter see says True
  bind_cown(m);
  bind_session(m);
  bind_interpreter_exit(m);
  bind_when(m);

  m.def(
      "spin",
      [](const std::vector<nb::handle>& cowns, std::uint64_t ns) {
        schedule_native([cores = cores_of(cowns), ns] { return new SpinBehaviour(cores, ns); });
      },
      nb::arg("cowns"), nb::arg("ns"));
  m.def(
      "loop",
      [](const std::vector<nb::handle>& cowns, std::uint64_t times, std::uint64_t ns) {
        schedule_native([cores = cores_of(cowns), times, ns] { return new LoopBehaviour(cores, times, ns); });
      },
      nb::arg("cowns"), nb::arg("times"), nb::arg("ns"));
  m.def(
      "fanout",
      [](nb::handle state, std::uint64_t steps, std::uint64_t children, std::uint64_t child_ns) {
        schedule_native([core = cores_of({state})[0], steps, children, child_ns] {
          return new FanoutBehaviour(core, steps, children, child_ns);
        });
      },
      nb::arg("state"), nb::arg("steps"), nb::arg("children"), nb::arg("child_ns"));
}
