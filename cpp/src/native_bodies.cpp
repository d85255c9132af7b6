#include "boc/native_bodies.h"

#include <chrono>
#include <vector>

#include "boc/runtime.h"
#include "boc/worker.h"

namespace boc {

void spin_for_slow(std::uint64_t ns) noexcept {
  const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < end) {
  }
}

namespace {
// The next step of a chain on several cowns: kept out of the one-cown path.
[[gnu::noinline]] Behaviour* next_step_on_set(const Behaviour& b, std::uint64_t remaining, std::uint64_t ns) {
  std::vector<Cown*> cowns(b.cown_count());
  for (std::size_t i = 0; i < cowns.size(); ++i) cowns[i] = b.cown(i);
  return new LoopBehaviour(cowns, remaining, ns);
}
}  // namespace

void LoopBehaviour::run() {
  spin_for(ns_);
  if (remaining_ <= 1) return;
  Behaviour* next;
  if (cown_count() == 1) {
    Cown* c = cown(0);
    next = new LoopBehaviour(std::span<Cown* const>(&c, 1), remaining_ - 1, ns_);
  } else {
    next = next_step_on_set(*this, remaining_ - 1, ns_);
  }
  WorkerContext::current()->runtime().schedule(next);
}

void FanoutBehaviour::run() {
  Runtime& rt = WorkerContext::current()->runtime();
  for (std::uint64_t i = 0; i < children_; ++i) {
    CownRef child = CownRef::make();
    Cown* c = child.get();
    rt.schedule(new SpinBehaviour(std::span<Cown* const>(&c, 1), child_ns_));
  }
  if (steps_ > 1) {
    Cown* state = cown(0);
    rt.schedule(new FanoutBehaviour(state, steps_ - 1, children_, child_ns_));
  }
}

}  // namespace boc
