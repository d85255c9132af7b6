// lifo: one stack shared by every worker; the newest runnable behaviour
// runs first, as Cilk-style runtimes order a worker's own work. Beside
// central it shows what the order alone does: a producer's latest children
// run while their data is warm, and the oldest work may wait long.
//
//   dispatch(b):  push b on the shared stack; wake one parked worker
//   next(w):      pop the stack's top; if it is empty, park until woken
#include "boc/strategy.h"

namespace boc {
namespace {

struct LifoStats {
  Counter pops;
};

class Lifo final : public ParkingStrategy<LifoStats> {
 public:
  void dispatch(Behaviour* b, WorkerContext*) override {
    if (stack_.push(b, parking)) parking.wake_any();
  }

  Behaviour* next(WorkerContext& w, bool block) override {
    auto pop = [&] { return counted(stack_.pop(), stats[w.index()].pops); };
    return block ? parking.wait(w, pop) : pop();
  }

 private:
  LockedLifo stack_;
};

const RegisterScheduler registration(strategy<Lifo>({
    .name = "lifo",
    .description = "one LIFO stack shared by all workers under a mutex: the newest runnable behaviour runs first",
    .counters = {{&LifoStats::pops, "pops", "behaviours this worker took from the shared stack", "shared stack"}},
}));

}  // namespace
}  // namespace boc
