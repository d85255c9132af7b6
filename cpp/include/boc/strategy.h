// Everything a scheduling strategy needs, in one include: the interface
// (scheduler.h), the registry, and the toolkit of shared pieces:
//
//   LockedFifo, LockedLifo   a shared queue under one mutex (locked_queue.h)
//   MpmcQueue                a lock-free intrusive queue (mpmc_queue.h)
//   WorkStealingQueue        a worker's queue of MPMC sub-queues, with steal
//   TreiberStack             a lock-free stack: push, take all, owner pop
//   ParkingLot               park / wake one / wake all / stop, and wait():
//                            the idle loop with its lost-wake-up handshake
//   PerWorker<Stats>         a strategy's per-worker counters, a cache line apart
//   ParkingStrategy<Stats>   a base holding those counters and a ParkingLot
//   counted(b, counter)      b, counting it if it is a behaviour
//   strategy<S>({...})       a registration whose counters say where they live
//
// A strategy S is a class derived from Scheduler with a `Stats` type of
// Counter / SharedCounter members and a `PerWorker<Stats> stats` member
// (ParkingStrategy<Stats> gives both). Its registration names each counter
// once, with the member that holds it:
//
//   const RegisterScheduler registration(strategy<Mine>({
//       .name = "mine", .description = "...",
//       .counters = {{&Mine::Stats::pops, "pops", "behaviours taken from the queue", "queue"}},
//   }));
//
// and the core reads the values from there. S is made with S(options) if it
// has such a constructor, else S().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "boc/behaviour.h"
#include "boc/counter.h"
#include "boc/platform.h"
#include "boc/registry.h"
#include "boc/scheduler.h"
#include "boc/toolkit/locked_queue.h"
#include "boc/toolkit/mpmc_queue.h"
#include "boc/toolkit/parking_lot.h"
#include "boc/toolkit/treiber_stack.h"
#include "boc/toolkit/work_stealing_queue.h"
#include "boc/worker.h"

namespace boc {

// One Stats per worker, each on its own cache lines, so that a worker
// counting does not slow down a peer counting.
template <class Stats>
class PerWorker {
 public:
  // Once, from Scheduler::attach.
  void attach(std::size_t workers) { slots_ = std::make_unique<Slot[]>(workers); }
  Stats& operator[](std::size_t worker) noexcept { return slots_[worker].stats; }
  const Stats& operator[](std::size_t worker) const noexcept { return slots_[worker].stats; }

 private:
  struct alignas(platform::cache_line) Slot {
    Stats stats;
  };
  std::unique_ptr<Slot[]> slots_;
};

// A base for strategies whose idle workers wait in one ParkingLot: holds
// the per-worker counters and the lot, attaches both, and stops the lot.
// A strategy that overrides attach() calls this one too.
template <class StatsType>
class ParkingStrategy : public Scheduler {
 public:
  using Stats = StatsType;
  PerWorker<Stats> stats;

  void attach(std::size_t workers) override {
    stats.attach(workers);
    parking.attach(workers);
  }
  void request_stop() override { parking.stop(); }

 protected:
  ParkingLot parking;
};

// `b`, after counting it in `counter` if it is not null: for a strategy's
// source counters, where a behaviour was found.
template <class C>
Behaviour* counted(Behaviour* b, C& counter) noexcept {
  if (b != nullptr) counter.add();
  return b;
}

// A counter of strategy S: its name, description and source (see
// CounterInfo), and the member of S::Stats that holds it.
template <class S>
struct CounterOf {
  template <class C>
    requires std::is_same_v<C, Counter> || std::is_same_v<C, SharedCounter>
  CounterOf(C S::Stats::*member, std::string name, std::string description, std::string source = {})
      : info{std::move(name), std::move(description), std::move(source),
             // The registry pairs this reader with create(), which only
             // makes an S: the cast is to the scheduler's own type.
             [member](const Scheduler& s, std::size_t worker) -> const std::atomic<std::uint64_t>& {
               return (static_cast<const S&>(s).stats[worker].*member).cell();
             }} {}

  CounterInfo info;
};

// A registration, for strategy<S>(): SchedulerInfo without `create`, and
// with counters that say where they live.
template <class S>
struct StrategyInfo {
  std::string name;
  std::string description;
  std::vector<OptionInfo> options = {};
  std::vector<CounterOf<S>> counters = {};
  bool sequential = false;  // see SchedulerInfo
};

template <class S>
SchedulerInfo strategy(StrategyInfo<S> info) {
  static_assert(std::is_base_of_v<Scheduler, S>, "a strategy derives from boc::Scheduler");
  SchedulerInfo out{std::move(info.name), std::move(info.description), std::move(info.options), {}, {}};
  for (CounterOf<S>& c : info.counters) out.counters.push_back(std::move(c.info));
  out.sequential = info.sequential;
  out.create = [](const Options& options) -> std::unique_ptr<Scheduler> {
    if constexpr (std::is_constructible_v<S, const Options&>) {
      return std::make_unique<S>(options);
    } else {
      return std::make_unique<S>();
    }
  };
  return out;
}

}  // namespace boc
