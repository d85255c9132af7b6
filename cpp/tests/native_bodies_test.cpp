// The C++ bodies used to measure schedulers: spin, loop and fan-out.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "boc/native_bodies.h"
#include "boc/runtime.h"
#include "test_support.h"

namespace boc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(SpinFor, SpinsAtLeastTheGivenTime) {
  for (std::uint64_t ns : {1'000ull, 100'000ull, 2'000'000ull}) {
    const auto t0 = Clock::now();
    spin_for(ns);
    EXPECT_GE(Clock::now() - t0, std::chrono::nanoseconds(ns));
  }
}

TEST(SpinFor, ZeroReturnsAtOnce) {
  const auto t0 = Clock::now();
  for (int i = 0; i < 1000; ++i) spin_for(0);
  EXPECT_LT(Clock::now() - t0, 100ms);
}

class NativeBodies : public test::PerScheduler {};
BOC_FOR_EVERY_SCHEDULER(NativeBodies);

TEST_P(NativeBodies, SpinBehaviourSpinsAtLeastItsTime) {
  constexpr std::uint64_t ns = 5'000'000;
  CownRef c = CownRef::make();
  Cown* cs[] = {c.get()};
  Runtime rt(test::PerScheduler::scheduler(), 2);
  rt.start();
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) rt.schedule(new SpinBehaviour(cs, ns));
  test::quiesce_or_abort(rt);
  // Same cown: the three spins run one after another.
  EXPECT_GE(Clock::now() - t0, std::chrono::nanoseconds(3 * ns));
  rt.stop();
  EXPECT_EQ(test::total_behaviours_run(rt), 3u);
  std::uint64_t busy = 0;
  for (const WorkerReport& r : rt.stats()) busy += r.busy_ns;
  EXPECT_GE(busy, 3 * ns);
}

TEST_P(NativeBodies, LoopBehaviourRunsExactlyTimesTimes) {
  // One cown, a set that fits the inline slots, and one that does not.
  for (std::size_t cowns : {1, 3, 5}) {
    for (std::uint64_t times : {1ull, 2ull, 1000ull}) {
      test::CownPool pool(cowns);
      std::vector<Cown*> set;
      for (std::size_t i = 0; i < cowns; ++i) set.push_back(pool[i]);
      Runtime rt(test::PerScheduler::scheduler(), test::default_workers);
      rt.start();
      rt.schedule(new LoopBehaviour(set, times, 0));
      test::stop_or_abort(rt);
      EXPECT_EQ(test::total_behaviours_run(rt), times) << cowns << " cowns";
    }
  }
}

// Several loops over overlapping cowns at once, from one thread.
TEST_P(NativeBodies, ConcurrentLoopsAllFinish) {
  constexpr std::uint64_t times = 300;
  test::CownPool pool(4);
  Runtime rt(test::PerScheduler::scheduler(), test::default_workers);
  rt.start();
  for (std::size_t i = 0; i < 4; ++i) {
    Cown* set[] = {pool[i], pool[(i + 1) % 4]};
    rt.schedule(new LoopBehaviour(set, times, 0));
  }
  test::stop_or_abort(rt);
  EXPECT_EQ(test::total_behaviours_run(rt), 4 * times);
}

TEST_P(NativeBodies, FanoutRunsStepsTimesChildrenPlusOne) {
  struct Shape {
    std::uint64_t steps, children, child_ns;
  };
  for (Shape s : {Shape{1, 0, 0}, Shape{1, 5, 0}, Shape{10, 1, 0}, Shape{20, 16, 1000}, Shape{50, 8, 0}}) {
    CownRef state = CownRef::make();
    Runtime rt(test::PerScheduler::scheduler(), test::default_workers);
    rt.start();
    rt.schedule(new FanoutBehaviour(state.get(), s.steps, s.children, s.child_ns));
    test::stop_or_abort(rt);
    EXPECT_EQ(test::total_behaviours_run(rt), s.steps * (s.children + 1))
        << s.steps << " steps x " << s.children << " children";
  }
}

}  // namespace
}  // namespace boc
