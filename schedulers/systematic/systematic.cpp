// systematic: one behaviour at a time, in an order drawn from a seed, so
// that a run can be replayed. For finding ordering bugs, not for speed.
//
//   dispatch(b) from a worker:       b joins the runnable set
//   dispatch(b) from outside:        b joins the inbox, in arrival order
//   whenever nothing runs, and the gate is open:
//       admit inbox behaviours, oldest first: always one if nothing else is
//       runnable, then each further one on a seeded coin toss
//       pick a runnable behaviour and a worker, both by the seed; that
//       worker runs it, every other worker waits
//   next(w):  run what was picked for w; else wait
//
// Why a gate: a behaviour from outside becomes runnable whenever the outside
// thread gets round to scheduling it, which no seed controls. So nothing
// runs while an outside thread is still scheduling: the gate opens while one
// waits for quiescence (boc.wait(), quiesce(), stop()), when the inbox, like
// the program, stands still. With one outside thread that schedules, then
// waits, every decision is a function of the seed and of the program: the
// same seed gives the same order of behaviours, on the same workers, in
// any process. A program that waits for its behaviours some other way (an
// event a body sets) would wait for ever; for it the gate also opens once
// the inbox has had no arrival for `patience_ms`, and from then on the
// order depends on timing as well as on the seed.
//
// The order of a run (behaviour ids, numbered in dispatch order) is kept
// and read back through Runtime::run_order().
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "boc/strategy.h"

namespace boc {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same sequence
// on every platform, unlike the standard library's distributions.
class SeededChoice {
 public:
  explicit SeededChoice(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // In [0, n); the modulo bias is below 2^-40 for any n a run meets.
  std::size_t below(std::size_t n) noexcept { return static_cast<std::size_t>(next() % n); }
  bool coin() noexcept { return (next() >> 63) != 0; }

 private:
  std::uint64_t state_;
};

struct SystematicStats {
  Counter runs, decisions, admitted;
};

class Systematic final : public Scheduler {
 public:
  using Stats = SystematicStats;
  using Clock = std::chrono::steady_clock;
  PerWorker<Stats> stats;

  explicit Systematic(const Options& o)
      : choice_(static_cast<std::uint64_t>(o.at("seed"))), patience_(std::chrono::milliseconds(o.at("patience_ms"))) {}

  void attach(std::size_t workers) override {
    stats.attach(workers);
    picked_.assign(workers, nullptr);
  }

  void dispatch(Behaviour* b, WorkerContext* from) override {
    std::lock_guard<std::mutex> guard(mutex_);
    ids_.emplace(b, next_id_++);
    if (from != nullptr) {
      runnable_.push_back(b);
    } else {
      inbox_.push_back(b);
      last_arrival_ = Clock::now();
    }
    changed_.notify_all();
  }

  Behaviour* next(WorkerContext& w, bool block) override {
    std::unique_lock<std::mutex> lock(mutex_);
    // A worker that took its pick asks again only once that behaviour, body
    // and release, is over: whatever it released is runnable by now. (It
    // may also ask between being picked and taking the pick.)
    if (runner_ == w.index() && taken_) {
      runner_ = nobody;
      taken_ = false;
    }
    for (;;) {
      if (Behaviour* b = std::exchange(picked_[w.index()], nullptr)) {
        taken_ = true;
        stats[w.index()].runs.add();
        auto id = ids_.find(b);
        order_.push_back(id->second);
        ids_.erase(id);
        return b;
      }
      if (runner_ == nobody && pick(w)) continue;
      if (!block || (stop_ && runner_ == nobody && runnable_.empty() && inbox_.empty())) return nullptr;
      w.stats().parks.add();
      if (TraceRing* t = w.trace()) t->record(TraceRecord::park, platform::tick());
      if (gate_closed() && !inbox_.empty()) {
        changed_.wait_until(lock, last_arrival_ + patience_);  // then the gate may open
      } else {
        changed_.wait(lock);
      }
      if (TraceRing* t = w.trace()) t->record(TraceRecord::wake, platform::tick());
    }
  }

  void request_stop() override {
    std::lock_guard<std::mutex> guard(mutex_);
    stop_ = true;
    changed_.notify_all();
  }

  void outside_waiting(bool waiting) override {
    std::lock_guard<std::mutex> guard(mutex_);
    waiting ? ++outside_waiting_ : --outside_waiting_;
    changed_.notify_all();
  }

  std::optional<std::vector<std::uint64_t>> run_order() const override {
    std::lock_guard<std::mutex> guard(mutex_);
    return order_;
  }

 private:
  static constexpr std::size_t nobody = static_cast<std::size_t>(-1);

  bool gate_closed() const {
    if (outside_waiting_ > 0 || stop_ || (!inbox_.empty() && Clock::now() - last_arrival_ >= patience_)) return false;
    // Work the gate let in goes on: what it scheduled is not the outside's.
    return runnable_.empty();
  }

  // One decision: admit, then pick a behaviour and its worker. Called by
  // any waiting worker (the state, not the caller, decides the outcome).
  bool pick(WorkerContext& w) {
    if (gate_closed()) return false;
    while (!inbox_.empty() && (runnable_.empty() || choice_.coin())) {
      runnable_.push_back(inbox_.front());
      inbox_.pop_front();
      stats[w.index()].admitted.add();
    }
    if (runnable_.empty()) return false;
    const std::size_t i = choice_.below(runnable_.size());
    Behaviour* b = runnable_[i];
    runnable_[i] = runnable_.back();
    runnable_.pop_back();
    runner_ = choice_.below(picked_.size());
    picked_[runner_] = b;
    stats[w.index()].decisions.add();
    changed_.notify_all();
    return true;
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  SeededChoice choice_;
  const Clock::duration patience_;
  std::vector<Behaviour*> runnable_;
  std::deque<Behaviour*> inbox_;
  std::vector<Behaviour*> picked_;  // per worker: what it runs next
  std::size_t runner_ = nobody;     // the worker picked last, until it asks again
  bool taken_ = false;              // the runner has taken its pick
  std::unordered_map<Behaviour*, std::uint64_t> ids_;
  std::uint64_t next_id_ = 0;
  std::vector<std::uint64_t> order_;
  Clock::time_point last_arrival_{};
  int outside_waiting_ = 0;
  bool stop_ = false;
};

const RegisterScheduler registration(strategy<Systematic>({
    .name = "systematic",
    .description = "one behaviour at a time, the next one and its worker drawn from a seed: a run is replayed "
                   "from its seed (for finding ordering bugs)",
    .options =
        {
            {"seed", "the seed of every choice; the same seed gives the same order", 0, 0, INT64_MAX},
            {"patience_ms",
             "milliseconds without a new behaviour from outside after which work runs before the program "
             "waits (from then on the order depends on timing too)",
             100, 0, 3'600'000},
        },
    .counters =
        {
            {&Systematic::Stats::runs, "runs", "behaviours this worker was picked to run", "seeded pick"},
            {&Systematic::Stats::decisions, "decisions", "picks this worker made (of a behaviour and its worker)"},
            {&Systematic::Stats::admitted, "admitted",
             "behaviours from outside threads this worker's decisions made runnable"},
        },
    .sequential = true,
}));

}  // namespace
}  // namespace boc
