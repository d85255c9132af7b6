// central: one queue shared by every worker, first in, first out; the
// baseline the other policies are measured against.
//
//   dispatch(b):  push b on the shared queue; wake one parked worker
//   next(w):      pop the queue's front; if it is empty, park until woken
//
// Identities (at quiescence): per worker, pops == behaviors_run; in all,
// pops == behaviours scheduled.
#include "boc/strategy.h"

namespace boc {
namespace {

struct CentralStats {
  Counter dispatches, pops, notifies;
};

class Central final : public ParkingStrategy<CentralStats> {
 public:
  void dispatch(Behaviour* b, WorkerContext* from) override {
    const bool woke = queue_.push(b, parking) && parking.wake_any() != ParkingLot::none;
    if (from == nullptr) return;
    stats[from->index()].dispatches.add();
    if (woke) stats[from->index()].notifies.add();
  }

  Behaviour* next(WorkerContext& w, bool block) override {
    auto pop = [&] { return counted(queue_.pop(), stats[w.index()].pops); };
    return block ? parking.wait(w, pop) : pop();
  }

 private:
  LockedFifo queue_;
};

const RegisterScheduler registration(strategy<Central>({
    .name = "central",
    .description = "one FIFO queue shared by all workers under a mutex; idle workers park until work is pushed",
    .counters =
        {
            {&CentralStats::dispatches, "dispatches",
             "behaviours this worker made runnable (outside threads are not counted)"},
            {&CentralStats::pops, "pops", "behaviours this worker took from the shared queue", "shared queue"},
            {&CentralStats::notifies, "notifies", "times this worker woke a parked worker"},
        },
}));

}  // namespace
}  // namespace boc
