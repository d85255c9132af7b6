// Stress: thousands of random multi-cown behaviours, scheduled concurrently
// from outside threads and from inside bodies. Bodies update per-cown
// counters without atomics; only exclusive, properly ordered access to each
// cown keeps the totals exact (and ThreadSanitizer quiet).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "boc/platform.h"
#include "boc/runtime.h"
#include "test_support.h"

namespace boc {
namespace {

using test::mix;

struct Workload {
  std::size_t workers;
  std::size_t pool;
  std::size_t producers;
  std::size_t roots_per_producer;
};

class Stress {
 public:
  explicit Stress(std::size_t pool) : pool_(pool), counts_(pool), expected_(pool) {}

  // Schedules a behaviour on 1-4 random cowns (duplicates allowed) derived
  // from `seed`; it may schedule up to two children while `depth` lasts.
  void schedule_random(Runtime& rt, std::uint64_t seed, int depth) {
    std::uint64_t r = mix(seed);
    const std::size_t size = 1 + r % 4;
    std::vector<Cown*> set;
    std::vector<std::size_t> mine;
    for (std::size_t k = 0; k < size; ++k) {
      r = mix(r);
      const std::size_t i = r % pool_.size();
      set.push_back(pool_[i]);
      mine.push_back(i);
    }
    std::sort(mine.begin(), mine.end());
    mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
    for (std::size_t i : mine) expected_[i].fetch_add(1, std::memory_order_relaxed);
    scheduled_.fetch_add(1, std::memory_order_relaxed);
    test::when(rt, set, [this, mine, r, depth] { body(mine, r, depth); });
  }

  void check(const Runtime& rt) const {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < pool_.size(); ++i) {
      EXPECT_EQ(counts_[i], expected_[i].load()) << "cown " << i;
      total += counts_[i];
    }
    EXPECT_GT(total, 0u);
    EXPECT_EQ(ran_.load(), scheduled_.load());
    EXPECT_EQ(test::total_behaviours_run(rt), scheduled_.load());
  }

  std::uint64_t scheduled() const { return scheduled_.load(); }

 private:
  void body(const std::vector<std::size_t>& mine, std::uint64_t r, int depth) {
    // Read, pause, write back: overlapping holders would lose updates.
    for (std::size_t i : mine) {
      const std::uint64_t v = counts_[i];
      if (r % 8 == 0) platform::cpu_relax();
      counts_[i] = v + 1;
    }
    ran_.fetch_add(1, std::memory_order_relaxed);
    if (depth > 0 && r % 3 == 0) {
      Runtime& self = WorkerContext::current()->runtime();
      const std::size_t children = 1 + (r >> 8) % 2;
      for (std::size_t c = 0; c < children; ++c) schedule_random(self, r + c + 1, depth - 1);
    }
  }

  test::CownPool pool_;
  std::vector<std::uint64_t> counts_;  // counts_[i] guarded by pool_[i]
  std::vector<std::atomic<std::uint64_t>> expected_;
  std::atomic<std::uint64_t> scheduled_{0};
  std::atomic<std::uint64_t> ran_{0};
};

class StressTest : public test::PerScheduler {
 protected:
  void run(const Workload& w) {
    SCOPED_TRACE(testing::Message() << w.workers << " workers, " << w.pool << " cowns, " << w.producers
                                    << " producers x " << w.roots_per_producer);
    Runtime rt(scheduler(), w.workers);
    Stress stress(w.pool);
    rt.start();
    // A reader of the statistics while everything runs (for the sanitizer).
    std::atomic<bool> done{false};
    std::thread monitor([&] {
      while (!done.load()) {
        for (const WorkerReport& r : rt.stats()) EXPECT_EQ(r.counters.size(), rt.scheduler_info().counters.size());
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
    std::vector<std::thread> producers;
    for (std::size_t p = 0; p < w.producers; ++p) {
      producers.emplace_back([&, p] {
        for (std::size_t k = 0; k < w.roots_per_producer; ++k) stress.schedule_random(rt, (p << 32) | k, 2);
      });
    }
    for (auto& t : producers) t.join();
    test::quiesce_or_abort(rt, "stress");
    done = true;
    monitor.join();
    EXPECT_EQ(rt.in_flight(), 0);
    EXPECT_GE(stress.scheduled(), w.producers * w.roots_per_producer);
    rt.stop();
    stress.check(rt);
  }
};
BOC_FOR_EVERY_SCHEDULER(StressTest);

TEST_P(StressTest, ManyProducersFewCowns) {
  run({test::default_workers, 16, 4, test::scaled(20000, 2)});
}

TEST_P(StressTest, ManyProducersManyCowns) {
  run({test::default_workers, 64, 4, test::scaled(20000, 2)});
}

TEST_P(StressTest, OneWorker) { run({1, 16, 3, test::scaled(10000, 2)}); }

TEST_P(StressTest, MoreWorkersThanCores) { run({8, 32, 3, test::scaled(10000, 2)}); }

}  // namespace
}  // namespace boc
