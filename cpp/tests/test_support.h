// Shared helpers for the native tests: the list of strategies every runtime
// test runs under, workload scaling for sanitizer builds, and small wrappers
// for scheduling lambdas and for waiting with a deadline.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "boc/behaviour.h"
#include "boc/cown.h"
#include "boc/registry.h"
#include "boc/runtime.h"

namespace boc::test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool under_tsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif
#else
inline constexpr bool under_tsan = false;
#endif

// An iteration count for a workload: `n` in a plain build, n / divisor
// (at least 1) under ThreadSanitizer, which runs such code 5-20x slower and
// on this project's small CI machines must still finish in seconds.
inline std::size_t scaled(std::size_t n, std::size_t tsan_divisor = 2) {
  if (!under_tsan) return n;
  const std::size_t s = n / tsan_divisor;
  return s == 0 ? 1 : s;
}

// How long a test waits for quiescence before calling it a hang.
inline std::chrono::seconds hang_limit() { return std::chrono::seconds(under_tsan ? 120 : 30); }

// Workers per runtime unless a test says otherwise: more than this machine's
// cores, so that workers are preempted in the middle of protocol steps.
inline constexpr std::size_t default_workers = 4;

// Every strategy compiled into this binary. Evaluated when GoogleTest
// registers the parametrized tests (after static initialisation), so
// strategies added under schedulers/ are picked up without edits here.
inline std::vector<std::string> scheduler_names() {
  std::vector<std::string> names;
  for (const SchedulerInfo* info : Registry::instance().all()) names.push_back(info->name);
  return names;
}

// GoogleTest parameter names must be alphanumeric or '_'.
inline std::string param_name(const ::testing::TestParamInfo<std::string>& p) {
  std::string s = p.param;
  for (char& ch : s) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (!ok) ch = '_';
  }
  return s;
}

// Schedules `body` on `cowns`.
template <typename Body>
void when(Runtime& rt, std::span<Cown* const> cowns, Body body) {
  rt.schedule(make_behaviour(cowns, std::move(body)));
}
template <typename Body>
void when(Runtime& rt, std::initializer_list<Cown*> cowns, Body body) {
  when(rt, std::span<Cown* const>(cowns.begin(), cowns.size()), std::move(body));
}

// Hangs (lost work, a deadlock, a worker that never wakes) end the process
// with a message instead of failing the test: the runtime's destructor would
// wait for ever too, so a failed assertion could not end the test anyway.
[[noreturn]] inline void hang(const char* what) {
  std::fprintf(stderr, "%s: still waiting after %llds (lost wake-up or deadlock?)\n", what,
               static_cast<long long>(hang_limit().count()));
  std::abort();
}

// Ends the process if it is still alive `limit` after construction and the
// guarded scope has not finished.
class Watchdog {
 public:
  explicit Watchdog(const char* what, std::chrono::seconds limit = hang_limit())
      : thread_([this, what, limit] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!done_cv_.wait_for(lock, limit, [this] { return done_; })) hang(what);
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// Waits for quiescence, or ends the process after the hang limit.
inline void quiesce_or_abort(Runtime& rt, const char* what = "quiesce") {
  if (!rt.quiesce(hang_limit())) {
    std::fprintf(stderr, "%lld behaviours in flight\n", static_cast<long long>(rt.in_flight()));
    hang(what);
  }
}

// Stops `rt` (waiting for its work, then joining its workers), or ends the
// process after the hang limit.
inline void stop_or_abort(Runtime& rt) {
  Watchdog watchdog("stop");
  rt.stop();
}

// Instantiates the TEST_Ps of `Suite` once per registered strategy.
#define BOC_FOR_EVERY_SCHEDULER(Suite)                                                             \
  INSTANTIATE_TEST_SUITE_P(Schedulers, Suite, ::testing::ValuesIn(::boc::test::scheduler_names()), \
                           ::boc::test::param_name)

// Base for tests that run once per registered strategy; GetParam() is its
// name. Each such test runs under a watchdog, so a hang anywhere in it (a
// stop() that never returns, say) ends it with a message.
class PerScheduler : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& scheduler() const { return GetParam(); }
  void SetUp() override { watchdog_ = std::make_unique<Watchdog>("test"); }
  void TearDown() override { watchdog_.reset(); }

 private:
  std::unique_ptr<Watchdog> watchdog_;
};

// A pool of cowns created in one go (their ids increase with the index).
class CownPool {
 public:
  explicit CownPool(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) refs_.push_back(CownRef::make());
  }
  Cown* operator[](std::size_t i) const { return refs_[i].get(); }
  std::size_t size() const { return refs_.size(); }

 private:
  std::vector<CownRef> refs_;
};

inline std::uint64_t total_behaviours_run(const Runtime& rt) {
  std::uint64_t sum = 0;
  for (const WorkerReport& r : rt.stats()) sum += r.behaviours_run;
  return sum;
}

// Polls `done` every millisecond until it holds or `limit` passes.
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// splitmix64: a tiny deterministic generator for seeds derived inside bodies.
inline std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace boc::test
