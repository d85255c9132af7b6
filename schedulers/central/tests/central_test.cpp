// The central strategy's own counters: every behaviour run was popped from
// the shared queue exactly once, and only dispatches made by workers count.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "boc/native_bodies.h"
#include "boc/runtime.h"
#include "test_support.h"

namespace boc {
namespace {

// Sum over workers of the strategy counter called `name`.
std::uint64_t counter_total(const Runtime& rt, const std::string& name) {
  const auto& counters = rt.scheduler_info().counters;
  const auto it = std::find_if(counters.begin(), counters.end(), [&](const CounterInfo& c) { return c.name == name; });
  EXPECT_NE(it, counters.end()) << "no counter " << name;
  if (it == counters.end()) return 0;
  const auto index = static_cast<std::size_t>(it - counters.begin());
  std::uint64_t sum = 0;
  for (const WorkerReport& r : rt.stats()) sum += r.counters.at(index);
  return sum;
}

TEST(CentralScheduler, IsRegisteredWithItsCounters) {
  const SchedulerInfo* info = Registry::instance().find("central");
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->options.empty());
  std::vector<std::string> names;
  for (const CounterInfo& c : info->counters) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dispatches", "pops", "notifies"}));
}

TEST(CentralScheduler, PopsEqualBehavioursRun) {
  const std::size_t n = test::scaled(2000);
  test::CownPool pool(8);
  std::atomic<std::uint64_t> ran{0};
  Runtime rt("central", test::default_workers);
  rt.start();
  for (std::size_t i = 0; i < n; ++i) {
    test::when(rt, {pool[i % 8], pool[(i / 8) % 8]}, [&] {
      ran++;
      test::when(WorkerContext::current()->runtime(), {pool[0]}, [&] { ran++; });
    });
  }
  test::stop_or_abort(rt);
  EXPECT_EQ(ran.load(), 2 * n);
  EXPECT_EQ(test::total_behaviours_run(rt), 2 * n);
  EXPECT_EQ(counter_total(rt, "pops"), 2 * n);
  EXPECT_LE(counter_total(rt, "notifies"), counter_total(rt, "dispatches"));
}

// Behaviours on fresh cowns become runnable in the scheduling (outside)
// thread; a loop's later runs queue behind their parent and are made
// runnable by the worker that releases the cown.
TEST(CentralScheduler, DispatchesCountOnlyWorkers) {
  constexpr std::uint64_t loop = 50;
  Runtime rt("central", 2);
  rt.start();
  for (int i = 0; i < 20; ++i) {
    CownRef c = CownRef::make();
    test::when(rt, {c.get()}, [] {});
  }
  test::quiesce_or_abort(rt);
  EXPECT_EQ(counter_total(rt, "dispatches"), 0u);
  CownRef c = CownRef::make();
  Cown* cs[] = {c.get()};
  rt.schedule(new LoopBehaviour(cs, loop, 0));
  test::stop_or_abort(rt);
  EXPECT_EQ(counter_total(rt, "dispatches"), loop - 1);
  EXPECT_EQ(counter_total(rt, "pops"), 20 + loop);
}

}  // namespace
}  // namespace boc
