// Strategies by name: each folder under schedulers/ registers one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "boc/scheduler.h"

namespace boc {

// A tunable of a strategy: an integer in [min, max].
struct OptionInfo {
  std::string name;
  std::string description;
  std::int64_t default_value;
  std::int64_t min;
  std::int64_t max;
};

// A per-worker statistic a strategy reports.
struct CounterInfo {
  std::string name;
  std::string description;
  // Non-empty for a source counter: it counts the behaviours this worker
  // took from one place ("shared queue", "stolen", ...). A strategy's
  // source counters add up, per worker, to behaviors_run.
  std::string source = {};
  // Where one worker's value of the counter lives, in a scheduler this
  // registration created (the core's own counters have none); it does not
  // move while the scheduler lives. strategy.h makes it from the member.
  std::function<const std::atomic<std::uint64_t>&(const Scheduler&, std::size_t worker)> cell = {};

  // The counter's value now for one worker (relaxed: see counter.h).
  std::uint64_t read(const Scheduler& s, std::size_t worker) const {
    return cell(s, worker).load(std::memory_order_relaxed);
  }
};

// Every option of the strategy, with defaults filled in.
using Options = std::map<std::string, std::int64_t>;

struct SchedulerInfo {
  std::string name;
  std::string description;
  std::vector<OptionInfo> options;
  std::vector<CounterInfo> counters;
  std::function<std::unique_ptr<Scheduler>(const Options&)> create;
  // True for a strategy that runs one behaviour at a time, even on
  // disjoint cowns (systematic): tests that need two bodies to overlap
  // skip it.
  bool sequential = false;
};

// Names and describes the counters the core keeps for every strategy.
const std::vector<CounterInfo>& core_counters();

class Registry {
 public:
  static Registry& instance();

  // Checks the registration: its name, options and counters must be well
  // formed (see registration_error()). A malformed one is refused: kept
  // with its reason, which get() reports, and left out of all().
  void add(SchedulerInfo info);
  const SchedulerInfo* find(const std::string& name) const;
  std::vector<const SchedulerInfo*> all() const;  // sorted by name
  // Refused registrations, name -> what was wrong.
  const std::map<std::string, std::string>& refused() const noexcept { return refused_; }

  // What is wrong with a registration, or "" when nothing is: a name that
  // is not lower_snake_case or is taken; an option out of its own range or
  // named twice; a counter named twice, or like a core counter, or without
  // a description or a way to read it; or no source counter at all (the
  // behaviours a worker ran must come from somewhere).
  std::string registration_error(const SchedulerInfo& info) const;

  // Checks `given` against the strategy's options (std::invalid_argument with
  // a message naming what is accepted) and fills in the defaults.
  static Options resolve_options(const SchedulerInfo& info, const Options& given);

  // std::invalid_argument naming the available strategies when unknown.
  const SchedulerInfo& get(const std::string& name) const;

 private:
  std::map<std::string, SchedulerInfo> entries_;
  std::map<std::string, std::string> refused_;
};

// Registers a strategy when the program loads. Use once per strategy, in a
// .cpp file of its folder.
struct RegisterScheduler {
  explicit RegisterScheduler(SchedulerInfo info) { Registry::instance().add(std::move(info)); }
};

}  // namespace boc
