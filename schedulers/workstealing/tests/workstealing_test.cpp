// The work-stealing strategy: registration and options, the statistics
// identities, producer locality, fairness tokens, and parking: a stress run
// of the park/unpark handshake (no lost wake-up) and shutdown while parked.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "boc/native_bodies.h"
#include "boc/runtime.h"
#include "schedulers/workstealing/workstealing.h"
#include "test_support.h"

namespace boc::workstealing {
namespace {

using std::chrono::seconds;

// --- Reading a runtime's counters -----------------------------------------

std::size_t stat_index(const Runtime& rt, const std::string& name) {
  const auto& counters = rt.scheduler_info().counters;
  const auto it = std::find_if(counters.begin(), counters.end(), [&](const CounterInfo& c) { return c.name == name; });
  if (it == counters.end()) throw std::logic_error("no counter " + name);
  return static_cast<std::size_t>(it - counters.begin());
}

std::uint64_t stat(const WorkerReport& r, const Runtime& rt, const std::string& name) {
  return r.counters.at(stat_index(rt, name));
}

std::uint64_t total(const Runtime& rt, const std::string& name) {
  std::uint64_t sum = 0;
  for (const WorkerReport& r : rt.stats()) sum += stat(r, rt, name);
  return sum;
}

std::uint64_t total_parks(const Runtime& rt) {
  std::uint64_t sum = 0;
  for (const WorkerReport& r : rt.stats()) sum += r.parks;
  return sum;
}

// The identities stated in workstealing.h. At quiescence the behaviour
// counts are final; idle workers may still try (and fail) to steal tokens,
// so the steal identity is checked only once the workers have stopped.
void expect_identities(const Runtime& rt, std::uint64_t scheduled, bool stopped = true) {
  std::uint64_t dispatched = 0, popped = 0, run = 0;
  for (const WorkerReport& r : rt.stats()) {
    const std::uint64_t pops =
        stat(r, rt, "pop_next_slot") + stat(r, rt, "pop_queue") + stat(r, rt, "steals");
    EXPECT_EQ(r.behaviours_run, pops) << "worker " << r.worker;
    if (stopped) {
      EXPECT_EQ(stat(r, rt, "steal_attempts"), stat(r, rt, "steals") + stat(r, rt, "steal_failures"))
          << "worker " << r.worker;
    }
    dispatched += stat(r, rt, "dispatch_next_slot") + stat(r, rt, "dispatch_local") + stat(r, rt, "dispatch_remote");
    popped += pops;
    run += r.behaviours_run;
  }
  EXPECT_EQ(run, scheduled);
  EXPECT_EQ(dispatched, scheduled);
  EXPECT_EQ(popped, scheduled);
}

// --- Registration ---------------------------------------------------------

TEST(WorkStealing, IsRegisteredWithOptionsAndCounters) {
  const SchedulerInfo* info = Registry::instance().find("workstealing");
  ASSERT_NE(info, nullptr);
  std::vector<std::string> names;
  for (const CounterInfo& c : info->counters) {
    names.push_back(c.name);
    EXPECT_FALSE(c.description.empty());
    EXPECT_NE(c.name, "parks") << "parks is a core counter";
  }
  EXPECT_EQ(names, (std::vector<std::string>{"dispatch_next_slot", "dispatch_local", "dispatch_remote",
                                             "pop_next_slot", "pop_queue", "steal_attempts", "steals",
                                             "steal_failures", "token_fires", "wakeups"}));
  const Options defaults = Registry::resolve_options(*info, {});
  EXPECT_EQ(defaults.at("sub_queues"), 4);
  EXPECT_EQ(defaults.at("batch_limit"), 100);
  EXPECT_EQ(defaults.at("fairness"), 1);
  EXPECT_TRUE(defaults.count("spin_us"));
}

TEST(WorkStealing, RejectsBadOptions) {
  for (const Options& bad : std::vector<Options>{{{"sub_queues", 0}},
                                                 {{"sub_queues", 65}},
                                                 {{"batch_limit", 0}},
                                                 {{"spin_us", -1}},
                                                 {{"fairness", 2}},
                                                 {{"no_such_option", 1}}}) {
    EXPECT_THROW(Runtime("workstealing", 1, bad), std::invalid_argument);
  }
  Runtime ok("workstealing", 1, {{"sub_queues", 64}, {"batch_limit", 1}, {"spin_us", 0}});
  EXPECT_EQ(ok.options().at("sub_queues"), 64);
}

// --- Statistics -----------------------------------------------------------

// A mixed workload: self-rescheduling loops and a fan-out started from
// outside, transfers that schedule a log entry from inside their bodies.
std::uint64_t run_mixed_workload(Runtime& rt) {
  const std::uint64_t loops = 32, loop_len = test::scaled(200, 4);
  const std::uint64_t steps = test::scaled(20, 4), children = 40;
  const std::uint64_t transfers = test::scaled(2000, 8);
  test::CownPool loop_cowns(loops), accounts(50), log(1);
  CownRef fan_state = CownRef::make();
  for (std::uint64_t i = 0; i < loops; ++i) {
    Cown* c = loop_cowns[i];
    rt.schedule(new LoopBehaviour(std::span<Cown* const>(&c, 1), loop_len, 0));
  }
  rt.schedule(new FanoutBehaviour(fan_state.get(), steps, children, 0));
  std::mt19937 rng(7);
  for (std::uint64_t t = 0; t < transfers; ++t) {
    const std::size_t a = rng() % 50, b = (a + 1 + rng() % 49) % 50;
    Cown* log_cown = log[0];
    test::when(rt, {accounts[a], accounts[b]}, [log_cown] {
      test::when(WorkerContext::current()->runtime(), {log_cown}, [] {});
    });
  }
  test::quiesce_or_abort(rt);
  return loops * loop_len + steps * (children + 1) + 2 * transfers;
}

TEST(WorkStealing, CountersReconcileAtQuiescence) {
  for (const Options& options : std::vector<Options>{
           {},
           {{"sub_queues", 1}, {"batch_limit", 1}},
           {{"sub_queues", 7}, {"batch_limit", 3}, {"spin_us", 0}},
           {{"fairness", 0}}}) {
    for (std::size_t workers : {1, 3}) {
      SCOPED_TRACE(testing::Message() << workers << " workers, " << options.size() << " options");
      Runtime rt("workstealing", workers, options);
      rt.start();
      const std::uint64_t scheduled = run_mixed_workload(rt);
      expect_identities(rt, scheduled, false);  // quiescent, workers still running
      test::stop_or_abort(rt);
      expect_identities(rt, scheduled);
      EXPECT_GT(total(rt, "dispatch_remote"), 0u);
      EXPECT_GT(total(rt, "dispatch_local"), 0u);
      EXPECT_GT(total(rt, "dispatch_next_slot"), 0u);
      EXPECT_GT(total(rt, "pop_next_slot"), 0u);
      EXPECT_GT(total(rt, "pop_queue"), 0u);
    }
  }
}

// A chain of released successors stays in the next slot of the worker
// that released it; only the first link (from outside) goes through a queue.
TEST(WorkStealing, ReleasedSuccessorsStayInTheNextSlot) {
  const std::uint64_t n = test::scaled(5000, 5);
  Runtime rt("workstealing", 2);
  rt.start();
  CownRef c = CownRef::make();
  Cown* cp = c.get();
  rt.schedule(new LoopBehaviour(std::span<Cown* const>(&cp, 1), n, 0));
  test::stop_or_abort(rt);
  expect_identities(rt, n);
  EXPECT_EQ(total(rt, "dispatch_remote"), 1u);
  EXPECT_EQ(total(rt, "dispatch_next_slot"), n - 1);
  EXPECT_EQ(total(rt, "pop_next_slot"), n - 1);
  EXPECT_EQ(total(rt, "pop_queue") + total(rt, "steals"), 1u);
}

// 256 self-rescheduling loops from outside, with a short batch limit so
// that each worker's queue is served often; returns the token fires.
std::uint64_t run_loops(bool fairness) {
  Runtime rt("workstealing", 2, {{"batch_limit", 10}, {"fairness", fairness ? 1 : 0}});
  rt.start();
  test::CownPool cowns(256);
  const std::uint64_t len = test::scaled(100, 4);
  for (std::size_t i = 0; i < cowns.size(); ++i) {
    Cown* c = cowns[i];
    rt.schedule(new LoopBehaviour(std::span<Cown* const>(&c, 1), len, 0));
  }
  test::stop_or_abort(rt);
  expect_identities(rt, cowns.size() * len);
  if (fairness) {
    EXPECT_GT(total(rt, "steal_attempts"), 0u);
  }
  return total(rt, "token_fires");
}

// A worker's token comes round through its queue and makes it steal.
TEST(WorkStealing, FairnessTokensFire) { EXPECT_GT(run_loops(true), 0u); }

// Without fairness the token stays home: a worker steals only when its own
// queue is empty.
TEST(WorkStealing, WithoutFairnessTokensNeverFire) { EXPECT_EQ(run_loops(false), 0u); }

// --- Parking --------------------------------------------------------------

// One worker runs a long chain (its token comes round every batch); the
// other has nothing to do and must park, not keep waking to chase tokens.
TEST(WorkStealing, TokensDoNotKeepAnIdleWorkerAwake) {
  const std::uint64_t n = test::scaled(20000, 4);
  Runtime rt("workstealing", 2, {{"batch_limit", 10}});
  rt.start();
  CownRef c = CownRef::make();
  Cown* cp = c.get();
  rt.schedule(new LoopBehaviour(std::span<Cown* const>(&cp, 1), n, 1000));  // >= n microseconds
  test::stop_or_abort(rt);
  const auto stats = rt.stats();
  const WorkerReport& idle = stats[0].behaviours_run < stats[1].behaviours_run ? stats[0] : stats[1];
  const WorkerReport& busy = stats[0].behaviours_run < stats[1].behaviours_run ? stats[1] : stats[0];
  EXPECT_GE(busy.behaviours_run, n - 1);
  EXPECT_GE(stat(busy, rt, "token_fires"), 1u);
  EXPECT_GE(idle.parks, 1u);
  EXPECT_LT(stat(idle, rt, "steal_attempts"), n / 10) << "the idle worker kept looking instead of sleeping";
}

// Work scheduled from inside a long body reaches a parked peer: the
// scheduling worker wakes it, and it steals the work.
TEST(WorkStealing, ParkedPeerTakesWorkScheduledInsideABody) {
  Runtime rt("workstealing", 2, {{"spin_us", 0}});
  rt.start();
  test::CownPool cowns(2);
  std::atomic<bool> second_ran{false}, saw_it{false};
  Cown* other = cowns[1];
  test::when(rt, {cowns[0]}, [&, other] {
    // The other worker, with nothing to do and no spinning, is asleep by now.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    test::when(WorkerContext::current()->runtime(), {other}, [&] { second_ran = true; });
    saw_it = test::eventually([&] { return second_ran.load(); }, std::chrono::milliseconds(10000));
  });
  test::stop_or_abort(rt);
  EXPECT_TRUE(saw_it.load()) << "a behaviour waited in a queue while a peer slept";
  EXPECT_GT(total(rt, "wakeups"), 0u);
  EXPECT_GE(total(rt, "steals"), 1u);
  EXPECT_GT(total_parks(rt), 0u);
}

// Drives the strategy directly with a few threads standing in for the
// runtime's workers, so a test can see who sleeps and run many rounds of
// "everyone parks, then work arrives".
class Harness {
 public:
  Harness(std::size_t workers, const Config& config)
      : runtime_("workstealing", workers), scheduler_(config) {  // runtime_ only lends WorkerContexts a Runtime&
    scheduler_.attach(workers);
    for (std::size_t i = 0; i < workers; ++i) contexts_.push_back(std::make_unique<WorkerContext>(runtime_, i));
    for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this, i] { loop(*contexts_[i]); });
  }
  ~Harness() { stop(); }

  WorkStealingScheduler& scheduler() { return scheduler_; }
  std::uint64_t ran() const { return ran_.load(); }
  std::size_t workers() const { return contexts_.size(); }

  // Schedules from outside a behaviour that, when run, dispatches
  // `children` more from its worker.
  void dispatch(std::uint64_t children) {
    scheduler_.dispatch(behaviour(children), nullptr);
  }

  void stop() {
    if (threads_.empty()) return;
    scheduler_.request_stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  std::uint64_t parks() const {
    std::uint64_t sum = 0;
    for (const auto& c : contexts_) sum += c->stats().parks.get();
    return sum;
  }

 private:
  Behaviour* behaviour(std::uint64_t children) {
    return make_behaviour(std::span<Cown* const>(), [this, children] {
      for (std::uint64_t k = 0; k < children; ++k) scheduler_.dispatch(behaviour(0), current_);
    });
  }

  void loop(WorkerContext& ctx) {
    current_ = &ctx;
    for (;;) {
      Behaviour* b = scheduler_.next(ctx, false);
      if (b == nullptr) b = scheduler_.next(ctx, true);
      if (b == nullptr) break;
      b->run();
      delete b;
      ran_++;
    }
    current_ = nullptr;
  }

  static inline thread_local WorkerContext* current_ = nullptr;
  Runtime runtime_;
  WorkStealingScheduler scheduler_;
  std::vector<std::unique_ptr<WorkerContext>> contexts_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint64_t> ran_{0};
};

// Round after round, every worker goes to sleep, then a burst of work
// arrives from outside (and fans out from the workers). Each burst must be
// run completely: a lost wake-up leaves work in a queue with everyone asleep.
TEST(WorkStealing, ParkUnparkHandshakeLosesNoWakeUp) {
  const std::size_t rounds = test::scaled(1500, 1);
  Config config;
  config.spin_ns = 0;  // park at once: as many sleep/wake races as possible
  Harness h(4, config);
  std::mt19937 rng(1);
  std::uint64_t expected = 0;
  std::size_t all_asleep = 0;
  for (std::size_t round = 0; round < rounds; ++round) {
    // Usually wait for every worker to be asleep; sometimes not, to race
    // the burst against workers on their way to sleep.
    if (round % 4 != 3) {
      if (test::eventually([&] { return h.scheduler().sleepers() == h.workers(); },
                           std::chrono::milliseconds(2000))) {
        ++all_asleep;
      }
    }
    const std::uint64_t burst = 1 + rng() % 6;
    for (std::uint64_t k = 0; k < burst; ++k) {
      const std::uint64_t children = rng() % 4;
      h.dispatch(children);
      expected += 1 + children;
    }
    ASSERT_TRUE(test::eventually([&] { return h.ran() == expected; }, std::chrono::milliseconds(20000)))
        << "round " << round << ": ran " << h.ran() << " of " << expected << " (lost wake-up)";
  }
  h.stop();
  EXPECT_EQ(h.ran(), expected);
  EXPECT_TRUE(h.scheduler().drained());
  EXPECT_GT(h.parks(), 0u);
  EXPECT_GT(all_asleep, 0u);
}

// Two outside producers and workers that fan out, with no pauses: the
// handshake under load, then a drained shutdown.
TEST(WorkStealing, ParkUnparkUnderContinuousLoad) {
  const std::uint64_t per_producer = test::scaled(100000, 2);
  Config config;
  config.spin_ns = 0;
  config.sub_queues = 2;
  Harness h(3, config);
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p) {
    producers.emplace_back([&, p] {
      for (std::uint64_t k = 0; k < per_producer; ++k) {
        h.dispatch(k % 3);
        if ((k + p) % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    });
  }
  for (auto& t : producers) t.join();
  std::uint64_t expected = 0;
  for (std::uint64_t k = 0; k < per_producer; ++k) expected += 2 * (1 + k % 3);
  ASSERT_TRUE(test::eventually([&] { return h.ran() == expected; }, std::chrono::milliseconds(30000)))
      << "ran " << h.ran() << " of " << expected;
  h.stop();
  EXPECT_TRUE(h.scheduler().drained());
}

// Stop while every worker sleeps: all wake, leave, and leave nothing behind.
TEST(WorkStealing, ShutdownWhileParked) {
  Config config;
  config.spin_ns = 0;
  for (int cycle = 0; cycle < 20; ++cycle) {
    Harness h(4, config);
    if (cycle % 2 == 1) {
      for (int k = 0; k < 10; ++k) h.dispatch(2);
      ASSERT_TRUE(test::eventually([&] { return h.ran() == 30; }));
    }
    ASSERT_TRUE(test::eventually([&] { return h.scheduler().sleepers() == 4; }));
    test::Watchdog watchdog("stop while parked");
    h.stop();
    EXPECT_TRUE(h.scheduler().drained());
  }
}

// The same through the runtime, start/stop cycle after cycle: the
// terminator's quiescence, then stop with every worker parked.
TEST(WorkStealing, RuntimeStartStopCyclesWithParkedWorkers) {
  for (int cycle = 0; cycle < 20; ++cycle) {
    Runtime rt("workstealing", 3, {{"spin_us", cycle % 2 == 0 ? 0 : 100}});
    rt.start();
    if (cycle % 3 != 0) {
      test::CownPool cowns(4);
      for (int k = 0; k < 100; ++k) test::when(rt, {cowns[k % 4]}, [] {});
      test::quiesce_or_abort(rt);
    }
    ASSERT_TRUE(test::eventually([&] { return total_parks(rt) >= 3; }));
    test::stop_or_abort(rt);
  }
}

}  // namespace
}  // namespace boc::workstealing
