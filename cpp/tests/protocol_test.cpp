// The BoC protocol: cown sets (sorting, de-duplication), FIFO per cown,
// exclusive access, nested scheduling and deadlock freedom.
#include <set>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "boc/behaviour.h"
#include "boc/platform.h"
#include "boc/runtime.h"
#include "test_support.h"

namespace boc {
namespace {

using test::CownPool;
using test::scaled;
using test::when;

// A behaviour whose body sees the behaviour itself (its cown set).
class Probe final : public Behaviour {
 public:
  Probe(std::span<Cown* const> cowns, std::function<void(Probe&)> body)
      : Behaviour(cowns), body_(std::move(body)) {}
  void run() override { body_(*this); }

 private:
  std::function<void(Probe&)> body_;
};

// 1..max_size indices into a pool of `pool` cowns, duplicates allowed.
std::vector<std::size_t> random_set(std::mt19937_64& rng, std::size_t pool, std::size_t max_size) {
  std::vector<std::size_t> set(1 + rng() % max_size);
  for (auto& i : set) i = rng() % pool;
  return set;
}

std::vector<std::size_t> distinct(std::vector<std::size_t> set) {
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  return set;
}

std::vector<Cown*> cowns_at(const CownPool& pool, const std::vector<std::size_t>& set) {
  std::vector<Cown*> out;
  for (std::size_t i : set) out.push_back(pool[i]);
  return out;
}

// ---------------------------------------------------------------------------
// Cown sets, without a runtime.

TEST(Cown, IdsIncreaseWithCreationOnOneThread) {
  CownPool pool(3000);  // crosses a per-thread block of ids
  for (std::size_t i = 1; i < pool.size(); ++i) EXPECT_LT(pool[i - 1]->id(), pool[i]->id());
}

TEST(Cown, IdsAreUniqueAcrossThreads) {
  constexpr std::size_t threads = 4, per_thread = 3000;
  std::vector<std::vector<std::uint64_t>> ids(threads);
  std::vector<std::thread> makers;
  for (std::size_t t = 0; t < threads; ++t) {
    makers.emplace_back([&ids, t] {
      for (std::size_t i = 0; i < per_thread; ++i) ids[t].push_back(CownRef::make()->id());
    });
  }
  for (std::thread& m : makers) m.join();
  std::set<std::uint64_t> all;
  for (const auto& mine : ids) all.insert(mine.begin(), mine.end());
  EXPECT_EQ(all.size(), threads * per_thread);
}

TEST(Behaviour, SortsCownsById) {
  CownPool pool(3);
  Cown* given[] = {pool[2], pool[0], pool[1]};
  std::unique_ptr<Behaviour> b(make_behaviour(given, [] {}));
  ASSERT_EQ(b->cown_count(), 3u);
  EXPECT_EQ(b->cown(0), pool[0]);
  EXPECT_EQ(b->cown(1), pool[1]);
  EXPECT_EQ(b->cown(2), pool[2]);
}

TEST(Behaviour, SortsAPairInEitherOrder) {
  CownPool pool(2);
  for (bool reversed : {false, true}) {
    Cown* given[] = {pool[reversed ? 1 : 0], pool[reversed ? 0 : 1]};
    std::unique_ptr<Behaviour> b(make_behaviour(given, [] {}));
    ASSERT_EQ(b->cown_count(), 2u);
    EXPECT_EQ(b->cown(0), pool[0]);
    EXPECT_EQ(b->cown(1), pool[1]);
  }
}

TEST(Behaviour, DropsDuplicateCowns) {
  CownPool pool(2);
  Cown* given[] = {pool[1], pool[0], pool[1], pool[0], pool[1]};
  std::unique_ptr<Behaviour> b(make_behaviour(given, [] {}));
  ASSERT_EQ(b->cown_count(), 2u);
  EXPECT_EQ(b->cown(0), pool[0]);
  EXPECT_EQ(b->cown(1), pool[1]);
  EXPECT_TRUE(b->holds(pool[0]));
  EXPECT_TRUE(b->holds(pool[1]));
}

TEST(Behaviour, SameCownTwiceIsOneCown) {
  CownRef c = CownRef::make();
  Cown* given[] = {c.get(), c.get()};
  std::unique_ptr<Behaviour> b(make_behaviour(given, [] {}));
  EXPECT_EQ(b->cown_count(), 1u);
  EXPECT_EQ(b->cown(0), c.get());
}

// More cowns than the inline slots: the sorted, de-duplicated set must still
// come out right from the heap slots.
TEST(Behaviour, LargeSetsAreSortedAndDeduplicated) {
  CownPool pool(9);
  std::vector<Cown*> given;
  for (std::size_t i : {7, 3, 8, 0, 3, 5, 1, 7, 2, 6, 4, 0}) given.push_back(pool[i]);
  std::unique_ptr<Behaviour> b(make_behaviour(given, [] {}));
  ASSERT_EQ(b->cown_count(), 9u);
  for (std::size_t i = 0; i < 9; ++i) EXPECT_EQ(b->cown(i), pool[i]) << i;
  CownRef outsider = CownRef::make();
  EXPECT_FALSE(b->holds(outsider.get()));
}

// Past the insertion-sort limit: sets in reverse and shuffled order, with
// duplicates, come out sorted and unique, and holds() finds every member
// (and nothing else) by binary search.
TEST(Behaviour, VeryLargeSetsAreSortedAndHoldsFindsEveryMember) {
  constexpr std::size_t n = 5000;
  CownPool pool(n);
  std::vector<Cown*> given;
  for (std::size_t i = n; i-- > 0;) given.push_back(pool[i]);
  for (std::size_t i = 0; i < n; i += 3) given.push_back(pool[(i * 7919) % n]);
  std::unique_ptr<Behaviour> b(make_behaviour(given, [] {}));
  ASSERT_EQ(b->cown_count(), n);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(b->cown(i), pool[i]) << i;
    ASSERT_TRUE(b->holds(pool[i])) << i;
  }
  CownRef outsider = CownRef::make();
  EXPECT_FALSE(b->holds(outsider.get()));
}

TEST(Behaviour, EmptySet) {
  std::unique_ptr<Behaviour> b(make_behaviour(std::span<Cown* const>(), [] {}));
  EXPECT_EQ(b->cown_count(), 0u);
}

// ---------------------------------------------------------------------------
// The protocol, under every strategy.

class Protocol : public test::PerScheduler {};
BOC_FOR_EVERY_SCHEDULER(Protocol);

TEST_P(Protocol, RunsOneBehaviourOnAWorkerOfItsRuntime) {
  CownRef c = CownRef::make();
  std::atomic<int> ran{0};
  std::atomic<bool> on_own_worker{false};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  when(rt, {c.get()}, [&] {
    WorkerContext* w = WorkerContext::current();
    on_own_worker = w != nullptr && &w->runtime() == &rt;
    ran++;
  });
  test::stop_or_abort(rt);
  EXPECT_EQ(ran.load(), 1);
  EXPECT_TRUE(on_own_worker.load());
  EXPECT_EQ(WorkerContext::current(), nullptr) << "the test thread is not a worker";
}

TEST_P(Protocol, BehaviourWithoutCownsRuns) {
  std::atomic<int> ran{0};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  for (int i = 0; i < 10; ++i) when(rt, std::span<Cown* const>(), [&] { ran++; });
  test::stop_or_abort(rt);
  EXPECT_EQ(ran.load(), 10);
}

// Were the duplicate queued twice, the behaviour would wait behind itself.
TEST_P(Protocol, SameCownTwiceIsAcquiredOnce) {
  CownRef c = CownRef::make();
  CownRef d = CownRef::make();
  std::atomic<std::size_t> seen_count{0};
  std::atomic<bool> holds_both{false};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  Cown* given[] = {d.get(), c.get(), d.get(), c.get()};
  rt.schedule(new Probe(given, [&](Probe& self) {
    seen_count = self.cown_count();
    holds_both = self.holds(c.get()) && self.holds(d.get());
  }));
  test::stop_or_abort(rt);
  EXPECT_EQ(seen_count.load(), 2u);
  EXPECT_TRUE(holds_both.load());
}

// A behaviour borrows its cowns; each cown's queue keeps it alive while
// requests wait on it. So a cown whose last outside reference goes right
// after scheduling lives until its queue empties, and then goes.
class CountedCown final : public Cown {
 public:
  explicit CountedCown(std::atomic<int>& alive) : alive_(alive) { alive_++; }
  ~CountedCown() override { alive_--; }

 private:
  std::atomic<int>& alive_;
};

TEST_P(Protocol, QueuesKeepTheirCownsAliveUntilIdle) {
  std::atomic<int> alive{0};
  std::atomic<bool> freed_too_soon{false};
  std::atomic<bool> go{false};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  for (int round = 0; round < 50; ++round) {
    {
      Ref<CountedCown> a = Ref<CountedCown>::make(alive);
      Ref<CountedCown> b = Ref<CountedCown>::make(alive);
      Cown* one[] = {a.get()};
      Cown* both[] = {a.get(), b.get()};
      // The first holds `a` until released, so the rest queue behind it.
      when(rt, one, [&] { platform::spin_until([&] { return go.load(); }); });
      for (int i = 0; i < 10; ++i) {
        if (i % 2) {
          when(rt, one, [&] { freed_too_soon = freed_too_soon || alive.load() < 1; });
        } else {
          when(rt, both, [&] { freed_too_soon = freed_too_soon || alive.load() != 2; });
        }
      }
    }  // the only references outside the runtime go here
    go = true;
    ASSERT_TRUE(rt.quiesce(test::hang_limit())) << "round " << round;
    go = false;
    EXPECT_EQ(alive.load(), 0) << "an idle cown with no reference left must be freed";
  }
  EXPECT_FALSE(freed_too_soon.load()) << "a body ran on a cown that was already freed";
  test::stop_or_abort(rt);
}

TEST_P(Protocol, FifoOnOneCown) {
  const std::size_t n = scaled(20000);
  CownRef c = CownRef::make();
  std::vector<std::size_t> order;  // guarded by c
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  for (std::size_t i = 0; i < n; ++i) when(rt, {c.get()}, [&order, i] { order.push_back(i); });
  test::stop_or_abort(rt);
  ASSERT_EQ(order.size(), n);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(order[i], i) << "behaviour " << order[i] << " ran " << i << "th";
}

// Each cown's log must list exactly the behaviours that named it, in the
// order they were scheduled, whatever else each behaviour held.
TEST_P(Protocol, FifoPerCownWithMultiCownBehaviours) {
  const std::size_t n = scaled(20000);
  CownPool pool(8);
  std::vector<std::vector<std::size_t>> log(pool.size());  // log[i] guarded by pool[i]
  std::vector<std::vector<std::size_t>> expected(pool.size());
  std::mt19937_64 rng(1);
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  for (std::size_t seq = 0; seq < n; ++seq) {
    const auto set = random_set(rng, pool.size(), 4);
    const auto mine = distinct(set);
    for (std::size_t i : mine) expected[i].push_back(seq);
    when(rt, cowns_at(pool, set), [&log, mine, seq] {
      for (std::size_t i : mine) log[i].push_back(seq);
    });
  }
  test::stop_or_abort(rt);
  for (std::size_t i = 0; i < pool.size(); ++i) EXPECT_EQ(log[i], expected[i]) << "cown " << i;
}

// With several scheduling threads the global order is open, but each
// thread's behaviours must reach each cown in that thread's order.
TEST_P(Protocol, FifoPerCownForEachSchedulingThread) {
  constexpr std::size_t threads = 4;
  const std::size_t per_thread = scaled(5000);
  CownPool pool(6);
  struct Entry {
    std::size_t thread, seq;
  };
  std::vector<std::vector<Entry>> log(pool.size());  // log[i] guarded by pool[i]
  std::vector<std::vector<std::size_t>> named(threads * pool.size());  // [t * pool + i]: seqs
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  std::vector<std::thread> producers;
  for (std::size_t t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (std::size_t seq = 0; seq < per_thread; ++seq) {
        const auto set = random_set(rng, pool.size(), 3);
        const auto mine = distinct(set);
        for (std::size_t i : mine) named[t * pool.size() + i].push_back(seq);
        when(rt, cowns_at(pool, set), [&log, mine, t, seq] {
          for (std::size_t i : mine) log[i].push_back({t, seq});
        });
      }
    });
  }
  for (auto& p : producers) p.join();
  test::stop_or_abort(rt);
  for (std::size_t i = 0; i < pool.size(); ++i) {
    for (std::size_t t = 0; t < threads; ++t) {
      std::vector<std::size_t> seen;
      for (const Entry& e : log[i]) {
        if (e.thread == t) seen.push_back(e.seq);
      }
      EXPECT_EQ(seen, named[t * pool.size() + i]) << "cown " << i << ", thread " << t;
    }
  }
}

// A behaviour scheduled from inside a body on a cown the body holds runs
// after the body ends, and a worker scheduling several behaviours is one
// thread: they reach each cown in its order.
TEST_P(Protocol, NestedBehavioursRunAfterTheirParentInOrder) {
  const std::size_t n = scaled(5000);
  CownPool pool(5);
  std::vector<std::vector<std::size_t>> log(pool.size());  // log[i] guarded by pool[i]
  std::vector<std::vector<std::size_t>> expected(pool.size());
  bool parent_done = false;  // guarded by pool[0]
  std::atomic<int> saw_parent_running{0};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  Cown* all[] = {pool[0], pool[1], pool[2], pool[3], pool[4]};
  when(rt, all, [&] {
    Runtime& self = WorkerContext::current()->runtime();
    std::mt19937_64 rng(7);
    for (std::size_t seq = 0; seq < n; ++seq) {
      auto set = random_set(rng, pool.size(), 3);
      if (seq % 10 == 0) set.push_back(0);
      const auto mine = distinct(set);
      for (std::size_t i : mine) expected[i].push_back(seq);
      when(self, cowns_at(pool, set), [&, mine, seq] {
        if (std::find(mine.begin(), mine.end(), 0) != mine.end() && !parent_done) saw_parent_running++;
        for (std::size_t i : mine) log[i].push_back(seq);
      });
    }
    // Children are queued behind this behaviour; none may have started.
    for (const auto& l : log) EXPECT_TRUE(l.empty());
    parent_done = true;
  });
  test::stop_or_abort(rt);
  EXPECT_EQ(saw_parent_running.load(), 0);
  for (std::size_t i = 0; i < pool.size(); ++i) EXPECT_EQ(log[i], expected[i]) << "cown " << i;
}

// Each body claims an owner flag on every cown it holds, lingers, and checks
// no one else claimed them meanwhile.
TEST_P(Protocol, BehavioursSharingACownNeverOverlap) {
  constexpr std::size_t threads = 4;
  const std::size_t per_thread = scaled(5000);
  CownPool pool(8);
  std::vector<std::atomic<std::uint64_t>> owner(pool.size());
  std::atomic<std::uint64_t> violations{0};
  std::atomic<std::uint64_t> ran{0};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  std::vector<std::thread> producers;
  for (std::size_t t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      std::mt19937_64 rng(200 + t);
      for (std::size_t k = 0; k < per_thread; ++k) {
        const std::uint64_t id = t * per_thread + k + 1;  // never 0 (0 = free)
        const auto set = random_set(rng, pool.size(), 3);
        const auto mine = distinct(set);
        when(rt, cowns_at(pool, set), [&, mine, id, k] {
          for (std::size_t i : mine) {
            std::uint64_t expected = 0;
            if (!owner[i].compare_exchange_strong(expected, id)) violations++;
          }
          for (int s = 0; s < 64; ++s) platform::cpu_relax();
          if (k % 16 == 0) std::this_thread::yield();
          for (std::size_t i : mine) {
            if (owner[i].load() != id) violations++;
            owner[i].store(0);
          }
          ran++;
        });
      }
    });
  }
  for (auto& p : producers) p.join();
  test::stop_or_abort(rt);
  EXPECT_EQ(violations.load(), 0u);
  EXPECT_EQ(ran.load(), threads * per_thread);
}

// Behaviours on disjoint cowns run in parallel: while one body waits for a
// second behaviour to run, an idle worker must pick that one up, whether it
// was scheduled from outside or from inside the waiting body.
TEST_P(Protocol, DisjointBehavioursRunInParallel) {
  if (Registry::instance().get(scheduler()).sequential) GTEST_SKIP() << "runs one behaviour at a time";
  for (bool nested : {false, true}) {
    SCOPED_TRACE(nested ? "second scheduled from inside the first" : "second scheduled from outside");
    CownPool pool(2);
    std::atomic<bool> first_started{false}, second_ran{false}, first_saw_second{false};
    Runtime rt(scheduler(), 2);
    rt.start();
    auto second = [&] { second_ran = true; };
    when(rt, {pool[0]}, [&] {
      first_started = true;
      if (nested) when(WorkerContext::current()->runtime(), {pool[1]}, second);
      first_saw_second = test::eventually([&] { return second_ran.load(); }, std::chrono::seconds(10));
    });
    ASSERT_TRUE(test::eventually([&] { return first_started.load(); }));
    if (!nested) when(rt, {pool[1]}, second);
    test::stop_or_abort(rt);
    EXPECT_TRUE(first_saw_second.load()) << "a runnable behaviour waited while a worker was idle";
    EXPECT_TRUE(second_ran.load());
  }
}

// Two runtimes sharing cowns: bodies of `source` schedule behaviours into
// `target` on a cown the body holds, so each waits for a worker of `source`
// to release that cown. It must still run on (and be counted by) `target`;
// to `target`, a worker of `source` is an outside thread.
TEST_P(Protocol, BodiesMayScheduleIntoAnotherRuntime) {
  const std::size_t n = scaled(2000);
  CownPool pool(4);
  std::atomic<std::uint64_t> on_target{0}, elsewhere{0};
  Runtime target(scheduler(), 1);
  Runtime source(scheduler(), test::default_workers);
  target.start();
  source.start();
  for (std::size_t i = 0; i < n; ++i) {
    when(source, {pool[i % 2]}, [&, i] {
      when(target, {pool[2 + i % 2], pool[i % 2]}, [&] {
        WorkerContext* w = WorkerContext::current();
        (w != nullptr && &w->runtime() == &target ? on_target : elsewhere)++;
      });
    });
  }
  test::stop_or_abort(source);
  test::stop_or_abort(target);
  EXPECT_EQ(on_target.load(), n);
  EXPECT_EQ(elsewhere.load(), 0u);
  EXPECT_EQ(test::total_behaviours_run(source), n);
  EXPECT_EQ(test::total_behaviours_run(target), n);
}

// Overlapping sets named in opposite orders, from several threads and from
// inside bodies: two-phase locking over id-sorted sets must never deadlock.
TEST_P(Protocol, OppositeOrdersNeverDeadlock) {
  constexpr std::size_t threads = 4;
  const std::size_t per_thread = scaled(10000);
  CownPool pool(4);
  Cown* a = pool[0];
  Cown* b = pool[1];
  Cown* c = pool[2];
  Cown* d = pool[3];
  const std::vector<std::vector<Cown*>> shapes = {
      {a, b}, {b, a}, {a, b, c}, {c, b, a}, {d, c, b, a}, {a, d}, {d, a}, {b, d, a, c}, {c, a}, {d, b},
  };
  std::atomic<std::uint64_t> scheduled{0}, ran{0};
  Runtime rt(scheduler(), test::default_workers);
  rt.start();
  std::vector<std::thread> producers;
  for (std::size_t t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      for (std::size_t k = 0; k < per_thread; ++k) {
        // Odd threads walk the shapes backwards and reverse each one.
        std::vector<Cown*> set = shapes[(t % 2 ? shapes.size() - 1 - k % shapes.size() : k % shapes.size())];
        if (t % 2) std::reverse(set.begin(), set.end());
        scheduled++;
        when(rt, set, [&, set, k] {
          ran++;
          if (k % 4 == 0) {
            std::vector<Cown*> back(set.rbegin(), set.rend());
            scheduled++;
            when(WorkerContext::current()->runtime(), back, [&] { ran++; });
          }
        });
      }
    });
  }
  for (auto& p : producers) p.join();
  test::stop_or_abort(rt);
  EXPECT_EQ(ran.load(), scheduled.load());
  EXPECT_EQ(test::total_behaviours_run(rt), scheduled.load());
}

}  // namespace
}  // namespace boc
