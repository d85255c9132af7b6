// WorkerResource hooks: what a body registers on its worker hears about
// every later behaviour there, every wait for work, and the worker's end.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "boc/runtime.h"
#include "boc/worker.h"
#include "test_support.h"

namespace boc {
namespace {

using test::when;

// Counts its calls and checks that each comes from the worker that
// registered it and none after retire(). `held` mimics a lock a body takes
// and the worker must let go of before it waits (an interpreter lock, say).
class Recorder final : public WorkerResource {
 public:
  Recorder() : owner_(std::this_thread::get_id()) {}

  void after_behaviour() noexcept override {
    check();
    // Exactly one after_behaviour per body, right after it.
    if (after.load() + 1 != bodies.load()) out_of_order++;
    after++;
  }
  void suspend() noexcept override {
    check();
    if (suspends.load() == 0) parks_at_first_suspend = WorkerContext::current()->stats().parks.get();
    suspends++;
    held = false;
  }
  void retire() noexcept override {
    check();
    retires++;
    retired = true;
  }

  std::atomic<std::uint64_t> bodies{0}, after{0}, suspends{0}, retires{0};
  std::atomic<std::uint64_t> wrong_thread{0}, used_after_retire{0}, out_of_order{0};
  std::atomic<std::uint64_t> parks_at_first_suspend{0};
  std::atomic<bool> held{false};

 private:
  void check() noexcept {
    if (std::this_thread::get_id() != owner_) wrong_thread++;
    if (retired.load()) used_after_retire++;
  }
  const std::thread::id owner_;
  std::atomic<bool> retired{false};
};

void expect_clean(const Recorder& r, std::size_t worker) {
  EXPECT_EQ(r.wrong_thread.load(), 0u) << "worker " << worker;
  EXPECT_EQ(r.used_after_retire.load(), 0u) << "worker " << worker;
  EXPECT_EQ(r.out_of_order.load(), 0u) << "worker " << worker;
  EXPECT_EQ(r.retires.load(), 1u) << "worker " << worker;
}

class Resources : public test::PerScheduler {};
BOC_FOR_EVERY_SCHEDULER(Resources);

// The first behaviour on each worker registers a recorder, so a worker's
// recorder hears about every behaviour that worker ran.
TEST_P(Resources, AfterBehaviourFollowsEveryBehaviourOnItsWorker) {
  const std::size_t n = test::scaled(3000);
  constexpr std::size_t workers = test::default_workers;
  std::vector<std::unique_ptr<Recorder>> recorders(workers);  // [i] written only by worker i
  test::CownPool pool(8);
  {
    Runtime rt(scheduler(), workers);
    rt.start();
    for (std::size_t i = 0; i < n; ++i) {
      when(rt, {pool[i % 8], pool[(i * 3) % 8]}, [&recorders] {
        WorkerContext* w = WorkerContext::current();
        auto& mine = recorders[w->index()];
        if (!mine) {
          mine = std::make_unique<Recorder>();
          w->add_resource(mine.get());
        }
        mine->bodies++;
      });
    }
    test::stop_or_abort(rt);
    const auto stats = rt.stats();
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < workers; ++i) {
      if (!recorders[i]) {
        EXPECT_EQ(stats[i].behaviours_run, 0u);
        continue;
      }
      const Recorder& r = *recorders[i];
      EXPECT_EQ(r.bodies.load(), stats[i].behaviours_run) << "worker " << i;
      EXPECT_EQ(r.after.load(), stats[i].behaviours_run) << "worker " << i;
      expect_clean(r, i);
      total += r.after.load();
    }
    EXPECT_EQ(total, n);
  }
}

// Suspend comes before the worker parks: with one worker, a body takes the
// "lock" and records the park count; the recorder's first suspend must see
// that same count (no park in between), and a park must follow it.
TEST_P(Resources, SuspendComesBeforeTheWorkerWaits) {
  Recorder* recorder = nullptr;  // written by the worker's first body
  std::unique_ptr<Recorder> owned;
  std::atomic<std::uint64_t> parks_at_body{0};
  std::atomic<bool> first_done{false};
  CownRef c = CownRef::make();
  Runtime rt(scheduler(), 1);
  rt.start();
  ASSERT_TRUE(test::eventually([&] { return rt.stats()[0].parks >= 1; })) << "the idle worker never parked";

  when(rt, {c.get()}, [&] {
    WorkerContext* w = WorkerContext::current();
    owned = std::make_unique<Recorder>();
    recorder = owned.get();
    w->add_resource(recorder);
    recorder->bodies++;
    recorder->held = true;
    parks_at_body = w->stats().parks.get();
    first_done = true;
  });
  test::quiesce_or_abort(rt);
  ASSERT_TRUE(first_done.load());
  ASSERT_NE(recorder, nullptr);
  EXPECT_TRUE(test::eventually([&] { return recorder->suspends.load() >= 1; })) << "no suspend once idle";
  EXPECT_TRUE(test::eventually([&] { return rt.stats()[0].parks > parks_at_body.load(); })) << "no park after";
  EXPECT_FALSE(recorder->held.load());
  EXPECT_EQ(recorder->parks_at_first_suspend.load(), parks_at_body.load());
  EXPECT_EQ(recorder->after.load(), 1u);

  // Take the "lock" again; the next idle spell must give it back again.
  const std::uint64_t suspends_before = recorder->suspends.load();
  when(rt, {c.get()}, [&] {
    recorder->bodies++;
    recorder->held = true;
  });
  test::quiesce_or_abort(rt);
  EXPECT_TRUE(test::eventually([&] { return recorder->suspends.load() > suspends_before; }));
  EXPECT_FALSE(recorder->held.load());
  EXPECT_EQ(recorder->after.load(), 2u);

  rt.stop();
  expect_clean(*recorder, 0);
}

// Several resources on one worker all hear every hook; retire comes once
// each, also when the runtime is only destroyed, not stopped.
TEST_P(Resources, EveryResourceIsRetiredOnceWhenTheWorkerEnds) {
  std::vector<std::unique_ptr<Recorder>> recorders;  // appended by the worker only
  std::atomic<bool> registered{false};
  CownRef c = CownRef::make();
  {
    Runtime rt(scheduler(), 1);
    rt.start();
    when(rt, {c.get()}, [&] {
      for (int i = 0; i < 3; ++i) {
        recorders.push_back(std::make_unique<Recorder>());
        WorkerContext::current()->add_resource(recorders.back().get());
        recorders.back()->bodies++;
      }
      registered = true;
    });
    for (int i = 0; i < 5; ++i) {
      when(rt, {c.get()}, [&] {
        for (auto& r : recorders) r->bodies++;
      });
    }
    test::quiesce_or_abort(rt);
    EXPECT_TRUE(registered.load());
    for (const auto& r : recorders) EXPECT_EQ(r->retires.load(), 0u) << "retired while the worker lives";
  }  // destructor: stops the worker
  ASSERT_EQ(recorders.size(), 3u);
  for (const auto& r : recorders) {
    EXPECT_EQ(r->after.load(), 6u);
    expect_clean(*r, 0);
  }
}

}  // namespace
}  // namespace boc
