// Per-worker statistics: the core's counters (behaviours run, parks, busy
// and idle time) and the shape of each strategy's own counters.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "boc/native_bodies.h"
#include "boc/registry.h"
#include "boc/runtime.h"
#include "test_support.h"

namespace boc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::when;

std::uint64_t ns_of(Clock::duration d) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

class Stats : public test::PerScheduler {};
BOC_FOR_EVERY_SCHEDULER(Stats);

TEST_P(Stats, BehavioursRunSumToWhatWasScheduled) {
  const std::size_t n = test::scaled(3000);
  test::CownPool pool(4);
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  EXPECT_EQ(test::total_behaviours_run(rt), 0u);
  for (std::size_t i = 0; i < n; ++i) {
    when(rt, {pool[i % 4], pool[(i * 7) % 4]}, [&rt, i] {
      if (i % 2 == 0) when(rt, std::span<Cown* const>(), [] {});
    });
  }
  test::quiesce_or_abort(rt);
  // Exact at quiescence, before and after stop.
  EXPECT_EQ(test::total_behaviours_run(rt), n + (n + 1) / 2);
  rt.stop();
  EXPECT_EQ(test::total_behaviours_run(rt), n + (n + 1) / 2);
}

// Every behaviour a worker ran was found somewhere: a strategy's source
// counters add up, per worker, to behaviors_run. With behaviours from an
// outside thread, from inside bodies, and successors released at a body's
// end, on 1 worker and on more workers than cores.
TEST_P(Stats, SourceCountersAddUpToBehavioursRunPerWorker) {
  const SchedulerInfo& info = Registry::instance().get(scheduler());
  for (std::size_t workers : {std::size_t{1}, test::default_workers}) {
    SCOPED_TRACE(std::to_string(workers) + " workers");
    const std::size_t n = test::scaled(2000);
    test::CownPool pool(6);
    Runtime rt(scheduler(), workers);
    rt.start();
    for (std::size_t i = 0; i < n; ++i) {
      when(rt, {pool[i % 6], pool[(i * 5 + 1) % 6]}, [&rt, &pool, i] {
        if (i % 3 == 0) when(rt, {pool[i % 6]}, [] {});
      });
    }
    test::stop_or_abort(rt);
    std::uint64_t total = 0;
    for (const WorkerReport& r : rt.stats()) {
      std::uint64_t found = 0;
      for (std::size_t c = 0; c < info.counters.size(); ++c) {
        if (!info.counters[c].source.empty()) found += r.counters.at(c);
      }
      EXPECT_EQ(found, r.behaviours_run) << "worker " << r.worker;
      total += r.behaviours_run;
    }
    EXPECT_EQ(total, n + (n + 2) / 3);
  }
}

TEST_P(Stats, IdleWorkersPark) {
  Runtime rt(scheduler(), 3);
  rt.start();
  EXPECT_TRUE(test::eventually([&] {
    for (const WorkerReport& r : rt.stats()) {
      if (r.parks == 0) return false;
    }
    return true;
  })) << "every worker of an idle runtime should park";
  rt.stop();
  for (const WorkerReport& r : rt.stats()) {
    EXPECT_GE(r.parks, 1u) << "worker " << r.worker;
    EXPECT_GT(r.idle_ns, 0u) << "worker " << r.worker;
  }
}

// Busy time is the worker's lifetime less its idle time: a 20 ms spin must
// show up as busy time somewhere, an idle spell as idle time, and no worker
// can account for more time than it lived.
TEST_P(Stats, BusyAndIdleTimesArePlausible) {
  constexpr auto spin = 20ms;
  const auto t0 = Clock::now();
  Runtime rt(scheduler(), 2);
  rt.start();
  std::this_thread::sleep_for(5ms);
  CownRef c = CownRef::make();
  Cown* cs[] = {c.get()};
  rt.schedule(new SpinBehaviour(cs, ns_of(spin)));
  test::stop_or_abort(rt);
  const std::uint64_t wall = ns_of(Clock::now() - t0);

  std::uint64_t busy = 0, idle = 0;
  for (const WorkerReport& r : rt.stats()) {
    EXPECT_GT(r.busy_ns + r.idle_ns, 0u) << "worker " << r.worker;
    EXPECT_LE(r.busy_ns + r.idle_ns, wall) << "worker " << r.worker;
    busy += r.busy_ns;
    idle += r.idle_ns;
  }
  EXPECT_GE(busy, ns_of(spin));
  EXPECT_GT(idle, 0u);
  // The one that ran the spin was busy at least that long.
  bool found = false;
  for (const WorkerReport& r : rt.stats()) {
    if (r.behaviours_run == 1) {
      found = true;
      EXPECT_GE(r.busy_ns, ns_of(spin)) << "worker " << r.worker;
    }
  }
  EXPECT_TRUE(found);
}

// After stop the figures are final: the clock no longer runs for anyone.
TEST_P(Stats, FrozenAfterStop) {
  Runtime rt(scheduler(), 2);
  rt.start();
  CownRef c = CownRef::make();
  when(rt, {c.get()}, [] {});
  test::stop_or_abort(rt);
  const auto before = rt.stats();
  std::this_thread::sleep_for(5ms);
  const auto after = rt.stats();
  ASSERT_EQ(before.size(), after.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].behaviours_run, after[i].behaviours_run);
    EXPECT_EQ(before[i].parks, after[i].parks);
    EXPECT_EQ(before[i].busy_ns, after[i].busy_ns);
    EXPECT_EQ(before[i].idle_ns, after[i].idle_ns);
    EXPECT_EQ(before[i].counters, after[i].counters);
  }
}

TEST_P(Stats, ReportShapeMatchesRegistration) {
  const SchedulerInfo& info = Registry::instance().get(scheduler());
  for (std::size_t workers : {1, 3}) {
    Runtime rt(scheduler(), workers);
    // Readable before start, while running and after stop.
    auto check = [&](const char* when_read) {
      const auto reports = rt.stats();
      ASSERT_EQ(reports.size(), workers) << when_read;
      for (std::size_t i = 0; i < reports.size(); ++i) {
        EXPECT_EQ(reports[i].worker, i) << when_read;
        EXPECT_EQ(reports[i].counters.size(), info.counters.size()) << when_read;
      }
    };
    check("before start");
    for (const WorkerReport& r : rt.stats()) {
      EXPECT_EQ(r.behaviours_run, 0u);
      EXPECT_EQ(r.busy_ns, 0u);
    }
    rt.start();
    CownRef c = CownRef::make();
    for (int i = 0; i < 10; ++i) when(rt, {c.get()}, [] {});
    check("while running");
    test::stop_or_abort(rt);
    check("after stop");
  }
}

}  // namespace
}  // namespace boc
