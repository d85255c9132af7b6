// The stackstealing strategy's own behaviour: work a busy worker made
// runnable is stolen by idle peers, work from outside is spread over the
// inboxes, and the counters keep their identities.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "boc/runtime.h"
#include "test_support.h"

namespace boc {
namespace {

using test::when;

std::uint64_t total(const Runtime& rt, const std::string& name) {
  const auto& counters = rt.scheduler_info().counters;
  const auto it = std::find_if(counters.begin(), counters.end(), [&](const CounterInfo& c) { return c.name == name; });
  EXPECT_NE(it, counters.end()) << name;
  std::uint64_t sum = 0;
  for (const WorkerReport& r : rt.stats()) sum += r.counters.at(static_cast<std::size_t>(it - counters.begin()));
  return sum;
}

// A body schedules children and then waits for half of them to run: only
// the idle worker can run them, by stealing the busy worker's stacks.
TEST(StackStealing, IdlePeersStealFromABusyWorker) {
  constexpr int children = 400;
  test::CownPool pool(children);
  std::atomic<int> ran{0};
  std::atomic<bool> saw_half{false};
  Runtime rt("stackstealing", 2);
  rt.start();
  CownRef parent = CownRef::make();
  when(rt, {parent.get()}, [&] {
    for (int i = 0; i < children; ++i) {
      when(WorkerContext::current()->runtime(), {pool[static_cast<std::size_t>(i)]}, [&] { ran++; });
    }
    saw_half = test::eventually([&] { return ran.load() >= children / 2; }, std::chrono::seconds(20));
  });
  test::stop_or_abort(rt);
  EXPECT_TRUE(saw_half.load()) << "the idle worker did not take the busy worker's work";
  EXPECT_EQ(ran.load(), children);
  EXPECT_GT(total(rt, "stolen_batches"), 0u);
  EXPECT_GE(total(rt, "steal_attempts"), total(rt, "stolen_batches"));
  EXPECT_GE(total(rt, "stolen_batches"), total(rt, "steals"));
}

TEST(StackStealing, WorkFromOutsideIsSpreadOverTheInboxes) {
  const std::size_t n = test::scaled(1000);
  test::CownPool pool(8);
  Runtime rt("stackstealing", 4);
  rt.start();
  for (std::size_t i = 0; i < n; ++i) when(rt, {pool[i % 8]}, [] {});
  test::stop_or_abort(rt);
  const auto& counters = rt.scheduler_info().counters;
  const auto inbox = static_cast<std::size_t>(
      std::find_if(counters.begin(), counters.end(), [](const CounterInfo& c) { return c.name == "dispatch_inbox"; }) -
      counters.begin());
  std::uint64_t sum = 0;
  for (const WorkerReport& r : rt.stats()) {
    EXPECT_GT(r.counters.at(inbox), 0u) << "worker " << r.worker;
    sum += r.counters.at(inbox);
  }
  // A behaviour on a free cown is dispatched by the outside thread; one
  // queued behind another, by the worker that releases the cown.
  EXPECT_LE(sum, n);
  EXPECT_EQ(total(rt, "dispatch_local"), 0u);  // no body scheduled anything
  EXPECT_EQ(sum + total(rt, "dispatch_next_slot"), n);
}

}  // namespace
}  // namespace boc
