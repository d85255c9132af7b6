// The terminator (in-flight count, quiescence) and the runtime's life:
// start, quiesce, stop, destruction, and many of them in a row.
#include <gtest/gtest.h>

#if defined(__linux__)
#include <sched.h>
#endif

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "boc/native_bodies.h"
#include "boc/platform.h"
#include "boc/runtime.h"
#include "boc/terminator.h"
#include "test_support.h"

namespace boc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::when;

// ---------------------------------------------------------------------------
// Terminator on its own.

TEST(Terminator, StartsQuiescent) {
  Terminator t;
  EXPECT_EQ(t.in_flight(), 0);
  EXPECT_TRUE(t.wait_until(Clock::now()));
}

TEST(Terminator, WaitTimesOutWhileSomethingIsInFlight) {
  Terminator t;
  Terminator::Credits worker;
  t.add_outside();
  t.add_outside();
  EXPECT_EQ(t.in_flight(), 2);
  const auto t0 = Clock::now();
  EXPECT_FALSE(t.wait_until(t0 + 20ms));
  EXPECT_GE(Clock::now() - t0, 20ms);
  t.remove(worker);
  t.flush(worker);
  EXPECT_FALSE(t.wait_until(Clock::now() + 1ms));
  t.remove(worker);
  t.flush(worker);
  EXPECT_EQ(t.in_flight(), 0);
  EXPECT_TRUE(t.wait_until(Clock::now() + 1ms));
}

// A finished behaviour stays counted as a credit until its worker flushes,
// so the count never reads zero early; scheduling spends credits first.
TEST(Terminator, CreditsKeepTheCountUntilFlushed) {
  Terminator t;
  Terminator::Credits worker;
  t.add(worker);  // no credit yet: counted
  t.remove(worker);
  EXPECT_EQ(t.in_flight(), 1);
  EXPECT_FALSE(t.wait_until(Clock::now() + 1ms));
  t.add(worker);  // spends the credit: the count does not move
  EXPECT_EQ(worker.get(), 0);
  EXPECT_EQ(t.in_flight(), 1);
  t.remove(worker);
  t.flush(worker);
  EXPECT_EQ(worker.get(), 0);
  EXPECT_TRUE(t.wait_until(Clock::now() + 1ms));
}

// Many rounds of "another thread removes the last one while we start to
// wait": a lost wake-up would leave a round waiting for its whole deadline.
TEST(Terminator, WaiterIsWokenByTheLastRemove) {
  const int rounds = static_cast<int>(test::scaled(5000, 2));
  Terminator t;
  std::atomic<int> round{-1};
  std::thread remover([&] {
    for (int i = 0; i < rounds; ++i) {
      while (round.load() < i) std::this_thread::yield();
      if (round.load() > i) return;  // the waiter gave up
      // Vary the race: sometimes remove at once, sometimes a little later.
      for (int s = 0; s < (i % 7) * 50; ++s) std::this_thread::yield();
      Terminator::Credits finished;
      t.remove(finished);
      t.flush(finished);
    }
  });
  for (int i = 0; i < rounds; ++i) {
    t.add_outside();
    round.store(i);
    const auto t0 = Clock::now();
    // wait_until checks the count again at the deadline, so a lost wake-up
    // shows as a round that took the whole 10 s, not as a false return.
    const bool quiescent = t.wait_until(t0 + 10s);
    const auto took = Clock::now() - t0;
    if (!quiescent || took > 5s) {
      round.store(rounds);  // let the remover finish
      remover.join();
      FAIL() << "round " << i << ": a waiter slept through the last remove";
    }
  }
  remover.join();
}

// ---------------------------------------------------------------------------
// Runtime life cycle, under every strategy.

class Lifecycle : public test::PerScheduler {};
BOC_FOR_EVERY_SCHEDULER(Lifecycle);

TEST_P(Lifecycle, QuiesceTimesOutWhileABehaviourRuns) {
  std::atomic<bool> started{false}, release{false};
  CownRef c = CownRef::make();
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  when(rt, {c.get()}, [&] {
    started = true;
    while (!release.load()) std::this_thread::yield();
  });
  ASSERT_TRUE(test::eventually([&] { return started.load(); }));
  const auto t0 = Clock::now();
  EXPECT_FALSE(rt.quiesce(20ms));
  EXPECT_GE(Clock::now() - t0, 20ms);
  EXPECT_EQ(rt.in_flight(), 1);
  // A behaviour queued behind the spinning one counts too.
  when(rt, {c.get()}, [] {});
  EXPECT_EQ(rt.in_flight(), 2);
  EXPECT_FALSE(rt.quiesce(1ms));
  release = true;
  EXPECT_TRUE(rt.quiesce(test::hang_limit()));
  EXPECT_EQ(rt.in_flight(), 0);
  EXPECT_TRUE(rt.running());
  rt.stop();
  EXPECT_FALSE(rt.running());
}

TEST_P(Lifecycle, SeveralThreadsQuiesceAtOnce) {
  std::atomic<bool> release{false};
  CownRef c = CownRef::make();
  Runtime rt(scheduler(), 2);
  rt.start();
  when(rt, {c.get()}, [&] {
    while (!release.load()) std::this_thread::yield();
  });
  std::atomic<int> returned{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      if (rt.quiesce(test::hang_limit())) returned++;
    });
  }
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(returned.load(), 0);
  release = true;
  for (auto& w : waiters) w.join();
  EXPECT_EQ(returned.load(), 4);
  rt.stop();
}

TEST_P(Lifecycle, QuiesceWithNothingScheduled) {
  Runtime rt(scheduler(), 2);
  rt.start();
  EXPECT_TRUE(rt.quiesce(0ns));
  EXPECT_TRUE(rt.quiesce());
  EXPECT_EQ(rt.in_flight(), 0);
  rt.stop();
}

// stop() waits for everything in flight, including behaviours scheduled
// late by bodies that were still running when stop() was called.
TEST_P(Lifecycle, StopFinishesOutstandingWork) {
  CownRef c = CownRef::make();
  std::atomic<int> ran{0};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  for (int i = 0; i < 50; ++i) {
    when(rt, {c.get()}, [&] {
      ran++;
      std::this_thread::sleep_for(100us);
      when(WorkerContext::current()->runtime(), std::span<Cown* const>(), [&] { ran++; });
    });
  }
  rt.stop();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_EQ(rt.in_flight(), 0);
  EXPECT_FALSE(rt.running());
  EXPECT_EQ(test::total_behaviours_run(rt), 100u);
}

TEST_P(Lifecycle, StartStopRules) {
  {
    Runtime rt(scheduler(), 1);
    EXPECT_FALSE(rt.running());
    rt.stop();  // never started: nothing to do
    EXPECT_FALSE(rt.running());
  }
  {
    Runtime rt(scheduler(), 1);
    rt.start();
    EXPECT_TRUE(rt.running());
    EXPECT_THROW(rt.start(), std::logic_error);
    rt.stop();
    rt.stop();  // a second stop is harmless
    EXPECT_THROW(rt.start(), std::logic_error) << "a runtime does not restart";
  }
  {
    Runtime rt(scheduler(), 3);
    EXPECT_EQ(rt.worker_count(), 3u);
    EXPECT_EQ(rt.scheduler_info().name, scheduler());
    EXPECT_EQ(rt.stats().size(), 3u);
  }
}

// Workers all parked (nothing to do) when stop() comes: each must be woken.
TEST_P(Lifecycle, StopWhileAllWorkersAreParked) {
  for (std::size_t workers : {1, 2, 4, 8}) {
    Runtime rt(scheduler(), workers);
    rt.start();
    EXPECT_TRUE(test::eventually([&] {
      for (const WorkerReport& r : rt.stats()) {
        if (r.parks == 0) return false;
      }
      return true;
    })) << workers << " workers: not every idle worker parked";
    const auto t0 = Clock::now();
    rt.stop();
    EXPECT_LT(Clock::now() - t0, 5s) << workers << " workers";
  }
}

// Stop right after a few milliseconds, whether or not the workers parked yet.
TEST_P(Lifecycle, StopSoonAfterStart) {
  for (int i = 0; i < 20; ++i) {
    Runtime rt(scheduler(), test::default_workers);
    rt.start();
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (i % 5)));
    rt.stop();
  }
}

TEST_P(Lifecycle, DestructorStopsAndFinishesWork) {
  std::atomic<int> ran{0};  // outlives the runtime
  CownRef c = CownRef::make();
  {
    Runtime rt(scheduler(), test::default_workers);
    rt.start();
    Cown* cs[] = {c.get()};
    rt.schedule(new LoopBehaviour(cs, 100, 0));
    for (int i = 0; i < 100; ++i) when(rt, {c.get()}, [&] { ran++; });
  }
  EXPECT_EQ(ran.load(), 100);
}

TEST_P(Lifecycle, DestroyNeverStartedRuntime) {
  for (int i = 0; i < 10; ++i) Runtime rt(scheduler(), 1 + i % 4);
}

// Many runtimes one after another, with and without work, stopped
// explicitly or by their destructor.
TEST_P(Lifecycle, ManyStartStopCycles) {
  constexpr int cycles = 200;
  std::uint64_t expected_total = 0;
  std::atomic<std::uint64_t> ran{0};
  for (int i = 0; i < cycles; ++i) {
    CownRef c = CownRef::make();
    CownRef d = CownRef::make();
    std::uint64_t expected = 0;
    {
      Runtime rt(scheduler(), 1 + i % 4);
      rt.start();
      if (i % 3 != 0) {
        for (int k = 0; k < 20; ++k) {
          Cown* set = k % 2 ? c.get() : d.get();
          when(rt, {set, c.get()}, [&] {
            ran++;
            when(WorkerContext::current()->runtime(), {d.get()}, [&] { ran++; });
          });
          expected += 2;
        }
      }
      if (i % 5 != 0) {
        rt.stop();
        EXPECT_EQ(test::total_behaviours_run(rt), expected) << "cycle " << i;
      }
    }
    expected_total += expected;
    ASSERT_EQ(ran.load(), expected_total) << "cycle " << i;
  }
}

// After close(), outside threads are refused (the behaviour is deleted, not
// run) while bodies may still schedule, so everything in flight completes.
TEST_P(Lifecycle, CloseRefusesOutsideWorkButNotBodies) {
  CownRef c = CownRef::make();
  std::atomic<int> ran{0};
  std::atomic<bool> closed{false};
  Runtime rt(scheduler(), 2);
  rt.start();
  when(rt, {c.get()}, [&] {
    while (!closed.load()) std::this_thread::yield();
    when(WorkerContext::current()->runtime(), {c.get()}, [&] { ran++; });  // a body's child
    ran++;
  });
  rt.close();
  closed = true;
  EXPECT_TRUE(rt.closed());
  Cown* set[] = {c.get()};
  EXPECT_THROW(rt.schedule(new LoopBehaviour(set, 1, 0)), RuntimeClosed);
  EXPECT_TRUE(rt.quiesce(test::hang_limit()));
  EXPECT_EQ(ran.load(), 2);
  rt.stop();
  EXPECT_EQ(test::total_behaviours_run(rt), 2u);
}

// Outside threads scheduling while another thread closes: each behaviour is
// either refused or run, and once the closer has seen quiescence nothing
// accepted is left (the seq_cst handshake of Terminator::add_outside).
TEST_P(Lifecycle, CloseRacesWithOutsideThreads) {
  for (int round = 0; round < static_cast<int>(test::scaled(50, 5)); ++round) {
    Runtime rt(scheduler(), 2);
    rt.start();
    std::atomic<int> ran{0}, accepted{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> outside;
    for (int t = 0; t < 3; ++t) {
      outside.emplace_back([&] {
        CownRef mine = CownRef::make();
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < 200; ++i) {
          try {
            when(rt, {mine.get()}, [&] { ran++; });
            accepted++;
          } catch (const RuntimeClosed&) {
            return;
          }
        }
      });
    }
    go = true;
    std::this_thread::sleep_for(std::chrono::microseconds(50 * (round % 7)));
    rt.close();
    ASSERT_TRUE(rt.quiesce(test::hang_limit()));
    const int ran_by_quiescence = ran.load();
    for (auto& t : outside) t.join();
    EXPECT_EQ(accepted.load(), ran.load()) << "round " << round << ": an accepted behaviour never ran";
    EXPECT_EQ(ran_by_quiescence, ran.load()) << "round " << round << ": one ran after quiescence";
    rt.stop();
  }
}

// A cown held or awaited by a forsaken runtime (the parent's, in a forked
// child) is free for another runtime at once.
TEST_P(Lifecycle, ForsakenRuntimeLetsGoOfItsCowns) {
  CownRef c = CownRef::make();
  std::atomic<bool> release{false}, started{false};
  auto* parent = new Runtime(scheduler(), 1);  // leaked below, as a forked child must
  parent->start();
  when(*parent, {c.get()}, [&] {
    started = true;
    while (!release.load()) std::this_thread::yield();
  });
  when(*parent, {c.get()}, [] {});  // waits behind the first
  ASSERT_TRUE(test::eventually([&] { return started.load(); }));
  parent->forsake();
  EXPECT_TRUE(parent->closed());

  std::atomic<int> ran{0};
  {
    Runtime child(scheduler(), 2);
    child.start();
    for (int i = 0; i < 10; ++i) when(child, {c.get()}, [&] { ran++; });
    EXPECT_TRUE(child.quiesce(test::hang_limit()));
    EXPECT_EQ(ran.load(), 10);
    child.stop();
  }
  // In a real child the parent's threads are gone; here they are not, so let
  // them finish before leaking the runtime (its cown queue now ends in the
  // child's requests, which completed). They still touch the cown, which
  // the child let go of when its queue emptied: leak a reference with them.
  c->retain();
  release = true;
  std::this_thread::sleep_for(10ms);
}

#if defined(__linux__)
TEST_P(Lifecycle, PinnedWorkersRunOnOneCpuEach) {
  bool can_pin = false;
  std::thread([&] { can_pin = platform::pin_current_thread(0); }).join();
  if (!can_pin) GTEST_SKIP() << "this process may not set a thread's CPU affinity";
  RuntimeSettings settings;
  settings.pin = true;
  Runtime rt(scheduler(), 2, {}, settings);
  std::atomic<int> cpus_seen{-1};
  rt.start();
  test::when(rt, std::span<Cown* const>(), [&] {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus_seen = CPU_COUNT(&set);
  });
  test::stop_or_abort(rt);
  EXPECT_EQ(rt.pinned_workers(), 2u);
  EXPECT_EQ(cpus_seen.load(), 1) << "a pinned worker may run on one CPU only";
}
#endif

TEST_P(Lifecycle, WorkersAreNotPinnedUnlessAsked) {
  Runtime rt(scheduler(), 2);
  rt.start();
  test::stop_or_abort(rt);
  EXPECT_EQ(rt.pinned_workers(), 0u);
}

}  // namespace
}  // namespace boc
