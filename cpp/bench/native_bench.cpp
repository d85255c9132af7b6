// Native benchmark: every registered strategy on a few workload shapes,
// with C++ bodies (no interpreter), printing nanoseconds per behaviour and
// per-worker steals and parks.
//
//   boc_native_bench [--seconds S] [--reps R] [--workers 1,2] [--schedulers a,b]
//                    [--shapes schedule,fanout64,...] [--opt name=value ...] [--verbose]
//
// Shapes (all bodies empty):
//   schedule     256 cowns, a self-rescheduling LoopBehaviour on each
//   fanout64     a producer that schedules 64 children on fresh cowns per
//   fanout1000   step, then itself again (FanoutBehaviour); 1000 children
//   banking      transfers between two random accounts out of 1000, each
//                scheduling a log entry on one shared log cown
//   dining_phil  100 philosophers, each eating (a behaviour on its two
//                neighbouring forks) meal after meal
//
// Each measurement is sized to take about --seconds (from trial runs),
// repeated --reps times; the median is printed, with the spread (slowest
// minus fastest, in % of the median; --verbose prints every run). Timing covers
// scheduling and running the work, not starting or stopping the workers.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "boc/native_bodies.h"
#include "boc/registry.h"
#include "boc/runtime.h"

namespace {

using boc::Cown;
using boc::CownRef;
using boc::Runtime;
using Clock = std::chrono::steady_clock;

struct Shape {
  std::string name;
  // Schedules about `size` behaviours on `rt`; returns how many exactly.
  std::function<std::uint64_t(Runtime&, std::uint64_t size)> run;
};

std::vector<CownRef> make_cowns(std::size_t n) {
  std::vector<CownRef> cowns;
  for (std::size_t i = 0; i < n; ++i) cowns.push_back(CownRef::make());
  return cowns;
}

std::uint64_t schedule_loops(Runtime& rt, std::uint64_t size) {
  constexpr std::uint64_t chains = 256;
  const std::uint64_t times = std::max<std::uint64_t>(1, size / chains);
  static std::vector<CownRef> cowns = make_cowns(chains);
  for (std::uint64_t i = 0; i < chains; ++i) {
    Cown* c = cowns[i].get();
    rt.schedule(new boc::LoopBehaviour(std::span<Cown* const>(&c, 1), times, 0));
  }
  return chains * times;
}

std::uint64_t fanout(Runtime& rt, std::uint64_t size, std::uint64_t children) {
  const std::uint64_t steps = std::max<std::uint64_t>(1, size / (children + 1));
  static CownRef state = CownRef::make();
  rt.schedule(new boc::FanoutBehaviour(state.get(), steps, children, 0));
  return steps * (children + 1);
}

std::uint64_t banking(Runtime& rt, std::uint64_t size) {
  constexpr std::size_t accounts = 1000;
  static std::vector<CownRef> account = make_cowns(accounts);
  static CownRef log = CownRef::make();
  const std::uint64_t transfers = std::max<std::uint64_t>(1, size / 2);
  std::uint64_t x = 0x9e3779b97f4a7c15ull;  // xorshift64
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  Cown* log_cown = log.get();
  for (std::uint64_t t = 0; t < transfers; ++t) {
    const std::size_t a = next() % accounts;
    const std::size_t b = (a + 1 + next() % (accounts - 1)) % accounts;
    Cown* pair[] = {account[a].get(), account[b].get()};
    rt.schedule(boc::make_behaviour(pair, [log_cown] {
      boc::WorkerContext::current()->runtime().schedule(
          boc::make_behaviour(std::span<Cown* const>(&log_cown, 1), [] {}));
    }));
  }
  return 2 * transfers;
}

std::uint64_t dining_philosophers(Runtime& rt, std::uint64_t size) {
  constexpr std::size_t philosophers = 100;
  static std::vector<CownRef> forks = make_cowns(philosophers);
  const std::uint64_t meals = std::max<std::uint64_t>(1, size / philosophers);
  for (std::size_t p = 0; p < philosophers; ++p) {
    Cown* two[] = {forks[p].get(), forks[(p + 1) % philosophers].get()};
    rt.schedule(new boc::LoopBehaviour(two, meals, 0));
  }
  return philosophers * meals;
}

const std::vector<Shape>& all_shapes() {
  static const std::vector<Shape> shapes = {
      {"schedule", schedule_loops},
      {"fanout64", [](Runtime& rt, std::uint64_t n) { return fanout(rt, n, 64); }},
      {"fanout1000", [](Runtime& rt, std::uint64_t n) { return fanout(rt, n, 1000); }},
      {"banking", banking},
      {"dining_phil", dining_philosophers},
  };
  return shapes;
}

struct Result {
  std::uint64_t behaviours = 0;
  double seconds = 0;
  std::vector<std::uint64_t> steals;  // per worker; empty if the strategy has no "steals" counter
  std::vector<std::uint64_t> parks;
  double ns_per_behaviour() const { return seconds * 1e9 / static_cast<double>(behaviours); }
};

Result measure(const std::string& scheduler, std::size_t workers, const boc::Options& options, const Shape& shape,
               std::uint64_t size) {
  Runtime rt(scheduler, workers, options);
  rt.start();
  const auto t0 = Clock::now();
  Result r;
  r.behaviours = shape.run(rt, size);
  rt.quiesce();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  rt.stop();
  const auto& counters = rt.scheduler_info().counters;
  const auto it = std::find_if(counters.begin(), counters.end(), [](const auto& c) { return c.name == "steals"; });
  std::uint64_t run = 0;
  for (const boc::WorkerReport& w : rt.stats()) {
    if (it != counters.end()) r.steals.push_back(w.counters[static_cast<std::size_t>(it - counters.begin())]);
    r.parks.push_back(w.parks);
    run += w.behaviours_run;
  }
  if (run != r.behaviours) {
    std::fprintf(stderr, "%s/%s: ran %llu behaviours, expected %llu\n", scheduler.c_str(), shape.name.c_str(),
                 static_cast<unsigned long long>(run), static_cast<unsigned long long>(r.behaviours));
    std::exit(1);
  }
  return r;
}

std::string per_worker(const std::vector<std::uint64_t>& v) {
  if (v.empty()) return "-";
  std::ostringstream s;
  for (std::size_t i = 0; i < v.size(); ++i) s << (i ? "/" : "") << v[i];
  return s.str();
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

[[noreturn]] void usage(const char* error) {
  std::fprintf(stderr, "%s\nusage: boc_native_bench [--seconds S] [--reps R] [--workers 1,2] [--schedulers a,b] "
                       "[--shapes a,b] [--opt name=value ...] [--verbose]\n", error);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.6;
  int reps = 3;
  std::vector<std::size_t> worker_counts = {1, 2};
  std::vector<std::string> schedulers;
  for (const boc::SchedulerInfo* info : boc::Registry::instance().all()) schedulers.push_back(info->name);
  std::vector<std::string> shape_names;
  for (const Shape& s : all_shapes()) shape_names.push_back(s.name);
  std::map<std::string, std::int64_t> extra_options;
  bool verbose = false;

  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--verbose") {
      verbose = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
    const std::string value = argv[++i];
    if (arg == "--seconds") {
      seconds = std::atof(value.c_str());
    } else if (arg == "--reps") {
      reps = std::max(1, std::atoi(value.c_str()));
    } else if (arg == "--workers") {
      worker_counts.clear();
      for (const std::string& w : split(value)) worker_counts.push_back(std::stoul(w));
    } else if (arg == "--schedulers") {
      schedulers = split(value);
    } else if (arg == "--shapes") {
      shape_names = split(value);
    } else if (arg == "--opt") {
      const auto eq = value.find('=');
      if (eq == std::string::npos) usage("--opt takes name=value");
      extra_options[value.substr(0, eq)] = std::stoll(value.substr(eq + 1));
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }

  std::printf("%-13s %7s %-11s %10s %9s %9s  %-22s %s\n", "scheduler", "workers", "shape", "behaviours",
              "ns/beh", "spread%", "steals/worker", "parks/worker");
  for (const std::string& scheduler : schedulers) {
    const boc::SchedulerInfo& info = boc::Registry::instance().get(scheduler);
    boc::Options options;  // --opt values this strategy knows
    for (const auto& [name, value] : extra_options) {
      for (const boc::OptionInfo& o : info.options) {
        if (o.name == name) options[name] = value;
      }
    }
    for (std::size_t workers : worker_counts) {
      for (const std::string& shape_name : shape_names) {
        const auto shape = std::find_if(all_shapes().begin(), all_shapes().end(),
                                        [&](const Shape& s) { return s.name == shape_name; });
        if (shape == all_shapes().end()) usage(("unknown shape " + shape_name).c_str());
        // Trial runs, growing until one takes a tenth of the target, size
        // the measurement.
        Result trial;
        for (std::uint64_t n = 20'000;; n *= 4) {
          trial = measure(scheduler, workers, options, *shape, n);
          if (trial.seconds >= seconds / 10 || n > (1ull << 40)) break;
        }
        const double per = std::max(trial.ns_per_behaviour(), 1.0);
        const auto size = static_cast<std::uint64_t>(seconds * 1e9 / per);
        std::vector<Result> results;
        for (int r = 0; r < reps; ++r) results.push_back(measure(scheduler, workers, options, *shape, size));
        std::sort(results.begin(), results.end(),
                  [](const Result& a, const Result& b) { return a.ns_per_behaviour() < b.ns_per_behaviour(); });
        const Result& median = results[results.size() / 2];
        const double spread = 100.0 * (results.back().ns_per_behaviour() - results.front().ns_per_behaviour()) /
                              median.ns_per_behaviour();
        std::printf("%-13s %7zu %-11s %10llu %9.1f %9.1f  %-22s %s\n", scheduler.c_str(), workers,
                    shape_name.c_str(), static_cast<unsigned long long>(median.behaviours),
                    median.ns_per_behaviour(), spread, per_worker(median.steals).c_str(),
                    per_worker(median.parks).c_str());
        if (verbose) {
          for (const Result& r : results) std::printf("    run: %.1f ns/beh\n", r.ns_per_behaviour());
        }
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
