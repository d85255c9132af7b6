// Tracing: the collected events agree with the counters, a behaviour's
// events pair up, full rings count what they lose, and no trace is kept
// unless asked for.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "boc/registry.h"
#include "boc/runtime.h"
#include "boc/trace.h"
#include "test_support.h"

namespace boc {
namespace {

using test::when;

class Tracing : public test::PerScheduler {};
BOC_FOR_EVERY_SCHEDULER(Tracing);

RuntimeSettings traced(std::size_t events = 1 << 16) {
  RuntimeSettings s;
  s.trace_events = events;
  return s;
}

std::size_t count_of(const TraceLog& log, TraceKind kind, std::int32_t worker = -2) {
  return static_cast<std::size_t>(std::count_if(log.events.begin(), log.events.end(), [&](const TraceEvent& e) {
    return e.kind == kind && (worker == -2 || e.worker == worker);
  }));
}

std::uint64_t counter(const Runtime& rt, const WorkerReport& r, const std::string& name) {
  const auto& counters = rt.scheduler_info().counters;
  for (std::size_t i = 0; i < counters.size(); ++i) {
    if (counters[i].name == name) return r.counters[i];
  }
  return 0;
}

// Outside schedules, bodies that schedule, several cowns: every path that
// makes a behaviour runnable.
void mixed_work(Runtime& rt, test::CownPool& pool, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    when(rt, {pool[i % pool.size()], pool[(i * 7 + 3) % pool.size()]}, [&rt, &pool, i] {
      when(rt, {pool[(i + 1) % pool.size()]}, [] {});
    });
  }
}

TEST_P(Tracing, EventsAgreeWithTheCounters) {
  const std::size_t n = test::scaled(2000);
  test::CownPool pool(6);
  Runtime rt(scheduler(), test::default_workers, {}, traced());
  rt.start();
  mixed_work(rt, pool, n);
  test::stop_or_abort(rt);
  const TraceLog log = rt.trace();
  const std::vector<WorkerReport> reports = rt.stats();

  ASSERT_EQ(log.workers, test::default_workers);
  for (std::uint64_t lost : log.overwritten) EXPECT_EQ(lost, 0u);
  std::uint64_t run = 0;
  for (const WorkerReport& r : reports) {
    const auto w = static_cast<std::int32_t>(r.worker);
    run += r.behaviours_run;
    EXPECT_EQ(count_of(log, TraceKind::start, w), r.behaviours_run);
    EXPECT_EQ(count_of(log, TraceKind::end, w), r.behaviours_run);
    EXPECT_EQ(count_of(log, TraceKind::park, w), r.parks);
    EXPECT_EQ(count_of(log, TraceKind::wake, w), r.parks);
    // Each start names the source counter that counted it.
    for (std::size_t s = 0; s < log.sources.size(); ++s) {
      const auto at = std::count_if(log.events.begin(), log.events.end(), [&](const TraceEvent& e) {
        return e.kind == TraceKind::start && e.worker == w && e.other == static_cast<std::int32_t>(s);
      });
      std::uint64_t expected = 0;
      for (const CounterInfo& c : rt.scheduler_info().counters) {
        if (c.source == log.sources[s]) expected = counter(rt, r, c.name);
      }
      EXPECT_EQ(static_cast<std::uint64_t>(at), expected) << log.sources[s] << " on worker " << w;
    }
    // A steal event per steal: per behaviour stolen (workstealing), per
    // stack taken (stackstealing).
    const std::string steal_counter = scheduler() == "stackstealing" ? "stolen_batches" : "steals";
    EXPECT_EQ(count_of(log, TraceKind::steal, w), counter(rt, r, steal_counter));
  }
  EXPECT_EQ(run, 2 * n);
  EXPECT_EQ(count_of(log, TraceKind::dispatch), 2 * n);

  // Every behaviour: one dispatch, then one start and one end on the same
  // worker, in that order.
  struct Life {
    int dispatches = 0, starts = 0, ends = 0;
    std::int64_t dispatched = 0, started = 0, ended = 0;
    std::int32_t worker = -1;
    std::uint32_t cowns = 0;
  };
  std::map<std::uint64_t, Life> lives;
  for (const TraceEvent& e : log.events) {
    if (e.behaviour == 0) continue;
    Life& l = lives[e.behaviour];
    if (e.kind == TraceKind::dispatch) ++l.dispatches, l.dispatched = e.ns;
    if (e.kind == TraceKind::start) ++l.starts, l.started = e.ns, l.worker = e.worker, l.cowns = e.cowns_count;
    if (e.kind == TraceKind::end) {
      ++l.ends, l.ended = e.ns;
      EXPECT_EQ(e.worker, l.worker);
    }
  }
  ASSERT_EQ(lives.size(), 2 * n);
  std::size_t two_cowns = 0;
  for (const auto& [id, l] : lives) {
    ASSERT_EQ(l.dispatches, 1) << "behaviour " << id;
    ASSERT_EQ(l.starts, 1) << "behaviour " << id;
    ASSERT_EQ(l.ends, 1) << "behaviour " << id;
    EXPECT_LE(l.started, l.ended);
    // The clock is read without serialising the CPU: a few ns either way.
    EXPECT_LE(l.dispatched, l.started + 1000);
    if (l.cowns == 2) ++two_cowns;
  }
  // (i % 6) and (7i + 3) % 6 differ for every i: half are two-cown behaviours.
  EXPECT_EQ(two_cowns, n);

  // One timeline per worker, in time order.
  for (std::size_t i = 1; i < log.events.size(); ++i) EXPECT_LE(log.events[i - 1].ns, log.events[i].ns);
}

TEST_P(Tracing, StartsCarryTheBehavioursCownsInIdOrder) {
  test::CownPool pool(3);
  Runtime rt(scheduler(), 2, {}, traced());
  rt.start();
  when(rt, {pool[2], pool[0], pool[1]}, [] {});
  when(rt, std::span<Cown* const>(), [] {});
  test::stop_or_abort(rt);
  const TraceLog log = rt.trace();
  std::vector<std::vector<std::uint64_t>> sets;
  for (const TraceEvent& e : log.events) {
    if (e.kind != TraceKind::start) continue;
    sets.emplace_back(log.cowns.begin() + e.cowns_begin, log.cowns.begin() + e.cowns_begin + e.cowns_count);
  }
  std::sort(sets.begin(), sets.end());
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_TRUE(sets[0].empty());
  EXPECT_EQ(sets[1], (std::vector<std::uint64_t>{pool[0]->id(), pool[1]->id(), pool[2]->id()}));
}

TEST_P(Tracing, AFullRingKeepsTheLatestEventsAndCountsTheRest) {
  const std::size_t n = 500;
  constexpr std::size_t capacity = 64;
  test::CownPool pool(1);
  Runtime rt(scheduler(), 1, {}, traced(capacity));
  rt.start();
  for (std::size_t i = 0; i < n; ++i) when(rt, {pool[0]}, [] {});
  test::stop_or_abort(rt);
  const TraceLog log = rt.trace();
  ASSERT_EQ(log.recorded.size(), 2u);  // the worker's ring, the outside ring
  ASSERT_EQ(log.overwritten.size(), 2u);
  // The worker wrote at least a start and an end per behaviour; it kept the
  // last `capacity` records and counted the rest.
  EXPECT_GE(log.recorded[0], 2 * n);
  EXPECT_EQ(log.overwritten[0], log.recorded[0] - capacity);
  for (std::size_t r = 0; r < 2; ++r) {
    EXPECT_EQ(log.overwritten[r], log.recorded[r] > capacity ? log.recorded[r] - capacity : 0);
  }
  // What is kept is the end of the run: the last behaviour ended, and every
  // start kept has its end kept after it.
  std::size_t worker_events = 0;
  std::map<std::uint64_t, int> open;
  for (const TraceEvent& e : log.events) {
    if (e.worker != 0) continue;
    ++worker_events;
    if (e.kind == TraceKind::start) ++open[e.behaviour];
    if (e.kind == TraceKind::end) --open[e.behaviour];
  }
  EXPECT_LE(worker_events, capacity);
  EXPECT_GE(count_of(log, TraceKind::end, 0), capacity / 4);
  for (const auto& [id, balance] : open) EXPECT_LE(balance, 0) << "behaviour " << id << " started but did not end";
}

TEST(TracingOff, NoTraceIsKeptUnlessAskedFor) {
  Runtime rt("workstealing", 1);
  rt.start();
  test::stop_or_abort(rt);
  EXPECT_THROW(rt.trace(), std::logic_error);
}

TEST(TracingOff, TheTraceIsReadOnlyOnceTheWorkersStopped) {
  Runtime rt("workstealing", 1, {}, traced());
  rt.start();
  EXPECT_THROW(rt.trace(), std::logic_error);
  test::stop_or_abort(rt);
  EXPECT_NO_THROW(rt.trace());
}

TEST(TracingSteals, AStealNamesItsVictimAndWhatItTook) {
  // One worker fills its queue from inside a body; the other can only steal.
  // Whether it gets the chance is up to the OS: a few tries.
  std::size_t steals = 0;
  for (int attempt = 0; attempt < 10 && steals == 0; ++attempt) {
    Runtime rt("workstealing", 2, {}, traced());
    test::CownPool pool(200);
    rt.start();
    when(rt, std::span<Cown* const>(), [&rt, &pool] {
      for (std::size_t i = 0; i < pool.size(); ++i) {
        when(rt, {pool[i]}, [] {
          volatile int spin = 0;
          for (int k = 0; k < 50000; k = k + 1) spin = spin + k;
        });
      }
    });
    test::stop_or_abort(rt);
    const TraceLog log = rt.trace();
    for (const TraceEvent& e : log.events) {
      if (e.kind != TraceKind::steal) continue;
      ++steals;
      EXPECT_NE(e.other, e.worker);
      EXPECT_TRUE(e.other == 0 || e.other == 1);
      EXPECT_GE(e.count, 1u);
    }
  }
  EXPECT_GT(steals, 0u);
}

}  // namespace
}  // namespace boc
