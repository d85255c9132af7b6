// The systematic strategy: one behaviour at a time, an order that is a
// function of the seed, every behaviour recorded once, and the gate that
// holds work from outside until the program waits (or its patience ends).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "boc/runtime.h"
#include "test_support.h"

namespace boc {
namespace {

using test::when;

struct Outcome {
  std::vector<std::uint64_t> order;  // as the strategy recorded it
  std::vector<int> seen;             // labels, in the order the bodies ran
  std::vector<std::uint64_t> runs;   // per worker
};

// Independent behaviours on 12 cowns, from outside, some scheduling a
// child from inside their body: many orders are possible.
Outcome run(std::int64_t seed, std::size_t workers = 3) {
  Outcome out;
  std::mutex m;
  std::atomic<int> overlap{0};
  test::CownPool pool(12);
  // Patience longer than any pause of this thread: the gate opens only
  // when the test waits, as the determinism promise requires.
  Runtime rt("systematic", workers, {{"seed", seed}, {"patience_ms", 600'000}});
  rt.start();
  for (int i = 0; i < 60; ++i) {
    when(rt, {pool[static_cast<std::size_t>(i % 12)]}, [&, i] {
      EXPECT_EQ(overlap.fetch_add(1), 0) << "two bodies ran at once";
      {
        std::lock_guard<std::mutex> g(m);
        out.seen.push_back(i);
      }
      if (i % 5 == 0) {
        when(WorkerContext::current()->runtime(), {pool[static_cast<std::size_t>((i + 1) % 12)]}, [&, i] {
          std::lock_guard<std::mutex> g(m);
          out.seen.push_back(1000 + i);
        });
      }
      overlap.fetch_sub(1);
    });
  }
  test::stop_or_abort(rt);
  const std::optional<std::vector<std::uint64_t>> order = rt.run_order();
  EXPECT_TRUE(order.has_value());
  if (order) out.order = *order;
  const SchedulerInfo& info = rt.scheduler_info();
  const auto runs = static_cast<std::size_t>(
      std::find_if(info.counters.begin(), info.counters.end(), [](const CounterInfo& c) { return c.name == "runs"; }) -
      info.counters.begin());
  for (const WorkerReport& r : rt.stats()) out.runs.push_back(r.counters.at(runs));
  return out;
}

TEST(Systematic, TheSameSeedGivesTheSameOrderOnTheSameWorkers) {
  const Outcome a = run(42), b = run(42);
  EXPECT_EQ(a.order, b.order);
  EXPECT_EQ(a.seen, b.seen);
  EXPECT_EQ(a.runs, b.runs);
}

TEST(Systematic, DifferentSeedsGiveDifferentOrders) {
  std::set<std::vector<int>> orders;
  for (std::int64_t seed = 0; seed < 5; ++seed) orders.insert(run(seed).seen);
  EXPECT_EQ(orders.size(), 5u);
}

TEST(Systematic, EveryBehaviourIsRecordedOnce) {
  const Outcome o = run(7);
  ASSERT_EQ(o.order.size(), 72u);  // 60 from outside, 12 children
  std::vector<std::uint64_t> sorted = o.order;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(o.seen.size(), 72u);
}

// The seed picks the worker too: with three workers, each gets some.
TEST(Systematic, SpreadsWorkOverWorkers) {
  const Outcome o = run(3);
  for (std::size_t w = 0; w < o.runs.size(); ++w) EXPECT_GT(o.runs[w], 0u) << "worker " << w;
}

// Work from outside waits for the program to wait, or for the patience to
// run out: a behaviour the outside thread waits for by other means still
// runs.
TEST(Systematic, PatienceLetsWorkRunBeforeTheProgramWaits) {
  CownRef c = CownRef::make();
  std::atomic<bool> ran{false};
  Runtime rt("systematic", 2, {{"patience_ms", 20}});
  rt.start();
  when(rt, {c.get()}, [&] { ran = true; });
  EXPECT_TRUE(test::eventually([&] { return ran.load(); }, std::chrono::seconds(10)));
  test::stop_or_abort(rt);
}

TEST(Systematic, OtherStrategiesRecordNoOrder) {
  for (const SchedulerInfo* info : Registry::instance().all()) {
    if (info->name == "systematic") continue;
    Runtime rt(info->name, 1);
    EXPECT_FALSE(rt.run_order().has_value()) << info->name;
  }
}

}  // namespace
}  // namespace boc
