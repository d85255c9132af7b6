// Native benchmark: every registered strategy on a few workload shapes,
// with C++ bodies (no interpreter), printing nanoseconds per behaviour and
// per-worker steals and parks.
//
//   boc_native_bench [--seconds S | --behaviours N] [--reps R] [--workers 1,2]
//                    [--schedulers a,b] [--shapes schedule,fanout64,...]
//                    [--opt name=value ...] [--pin] [--trace EVENTS] [--verbose]
//
// Shapes (bodies empty apart from the bookkeeping named):
//   schedule     256 cowns, a self-rescheduling LoopBehaviour on each
//   fanout64     a producer that schedules 64 children on fresh cowns per
//   fanout1000   step, then itself again (FanoutBehaviour); 1000 children
//   banking      36 account cowns, one log cown and one teller cown per
//                worker. Each teller step picks two distinct random
//                accounts, schedules a transfer on both (moves 100 if the
//                source has it) and schedules itself again on its teller
//                cown until it has issued its share; every transfer
//                schedules a log entry (empty) on the shared log cown.
//                3 behaviours per transaction; money is checked conserved.
//   dining_phil  50 fork cowns; philosopher i eats `hunger` meals, each a
//                behaviour on fork[i] and fork[(i+1)%50] that counts a use
//                of both and schedules the next meal on the same forks. All
//                philosophers start from one zero-cown behaviour; every
//                fork is checked used 2*hunger times.
//
// schedule, banking and dining_phil are also written against Verona-RT's
// API (verona/verona_bench.cc); compare_verona.py runs both side by side.
//
// Each measurement is sized to take about --seconds (from trial runs), or
// to run --behaviours (no trial runs: every process then does the same
// work, as compare_verona.py and callgrind need), repeated --reps times;
// the median is printed, with the spread (slowest minus fastest, in % of
// the median; --verbose prints every run). Timing covers scheduling and
// running the work, not starting or stopping the workers; the invariant
// checks run after the clock stops. --pin pins each worker to a CPU
// (RuntimeSettings::pin). --trace keeps a trace of every run, EVENTS
// records per worker (RuntimeSettings::trace_events), so that its cost shows
// against a run without; the trace is collected after the clock stops and
// checked (a start and an end per behaviour run, less those overwritten),
// and --verbose prints what it kept and a summary: per worker, behaviours
// started, time in bodies and the median wait from runnable to started;
// cown hops, how often a cown's next behaviour ran on another worker; and
// the mean cycle (from the worker's previous end to this behaviour's end)
// by the behaviour's number of cowns and whether one of them hopped.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "boc/native_bodies.h"
#include "boc/platform.h"
#include "boc/registry.h"
#include "boc/runtime.h"

namespace {

using boc::Cown;
using boc::CownRef;
using boc::Runtime;
using Clock = std::chrono::steady_clock;

// What a shape scheduled: how many behaviours it will run in all, and a
// check of its invariants to call once they have (null if it has none).
struct Workload {
  std::uint64_t behaviours = 0;
  std::function<void()> check;
};

struct Shape {
  std::string name;
  // Schedules about `size` behaviours on `rt`.
  std::function<Workload(Runtime&, std::uint64_t size)> run;
};

[[noreturn]] void invariant_broken(const char* shape, const std::string& what) {
  std::fprintf(stderr, "%s: invariant broken: %s\n", shape, what.c_str());
  std::exit(1);
}

std::vector<CownRef> make_cowns(std::size_t n) {
  std::vector<CownRef> cowns;
  for (std::size_t i = 0; i < n; ++i) cowns.push_back(CownRef::make());
  return cowns;
}

// The runtime of the worker running the calling body.
Runtime& this_runtime() { return boc::WorkerContext::current()->runtime(); }

std::uint64_t xorshift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

Workload schedule_loops(Runtime& rt, std::uint64_t size) {
  constexpr std::uint64_t chains = 256;
  const std::uint64_t times = std::max<std::uint64_t>(1, size / chains);
  static std::vector<CownRef> cowns = make_cowns(chains);
  for (std::uint64_t i = 0; i < chains; ++i) {
    Cown* c = cowns[i].get();
    rt.schedule(new boc::LoopBehaviour(std::span<Cown* const>(&c, 1), times, 0));
  }
  return {chains * times, nullptr};
}

Workload fanout(Runtime& rt, std::uint64_t size, std::uint64_t children) {
  const std::uint64_t steps = std::max<std::uint64_t>(1, size / (children + 1));
  static CownRef state = CownRef::make();
  rt.schedule(new boc::FanoutBehaviour(state.get(), steps, children, 0));
  return {steps * (children + 1), nullptr};
}

// --- banking ---------------------------------------------------------------
//
// Plain counters beside the cowns: each is touched only by behaviours that
// hold the matching cown, which is what makes them safe without atomics.
namespace banking {

constexpr std::size_t accounts = 36;
constexpr std::int64_t opening_balance = 1000;
constexpr std::int64_t amount = 100;

struct Bank {
  std::vector<CownRef> account_cowns = make_cowns(accounts);
  CownRef log_cown = CownRef::make();
  std::vector<CownRef> teller_cowns;
  // Each balance and each teller on a cache line of its own, as Verona-RT
  // keeps them inside separately allocated cowns: workers moving money
  // between different accounts share no line.
  struct alignas(boc::platform::cache_line) Account {
    std::int64_t balance;  // guarded by account_cowns[i]
  };
  Account ledger[accounts];
  struct alignas(boc::platform::cache_line) Teller {
    std::uint64_t rng;      // guarded by teller_cowns[i]
    std::uint64_t to_issue;
  };
  std::vector<Teller> tellers;
};

class LogEntry final : public boc::Behaviour {
 public:
  explicit LogEntry(Cown* log) : Behaviour(std::span<Cown* const>(&log, 1)) {}
  void run() override {}
};

class Transfer final : public boc::Behaviour {
 public:
  Transfer(Bank& bank, std::size_t from, std::size_t to)
      : Behaviour(cowns_of(bank, from, to)), bank_(bank), from_(from), to_(to) {}
  void run() override {
    if (bank_.ledger[from_].balance >= amount) {
      bank_.ledger[from_].balance -= amount;
      bank_.ledger[to_].balance += amount;
    }
    this_runtime().schedule(new LogEntry(bank_.log_cown.get()));
  }

 private:
  static std::array<Cown*, 2> cowns_of(Bank& bank, std::size_t from, std::size_t to) {
    return {bank.account_cowns[from].get(), bank.account_cowns[to].get()};
  }
  Bank& bank_;
  std::size_t from_, to_;
};

class TellerStep final : public boc::Behaviour {
 public:
  TellerStep(Bank& bank, std::size_t teller)
      : Behaviour(std::array<Cown*, 1>{bank.teller_cowns[teller].get()}), bank_(bank), teller_(teller) {}
  void run() override {
    Bank::Teller& t = bank_.tellers[teller_];
    const std::size_t from = xorshift(t.rng) % accounts;
    const std::size_t to = (from + 1 + xorshift(t.rng) % (accounts - 1)) % accounts;
    Runtime& rt = this_runtime();
    rt.schedule(new Transfer(bank_, from, to));
    if (--t.to_issue > 0) rt.schedule(new TellerStep(bank_, teller_));
  }

 private:
  Bank& bank_;
  std::size_t teller_;
};

Workload run(Runtime& rt, std::uint64_t size) {
  auto bank = std::make_shared<Bank>();
  const std::size_t tellers = rt.worker_count();
  const std::uint64_t transactions = std::max<std::uint64_t>(tellers, size / 3);
  for (Bank::Account& a : bank->ledger) a.balance = opening_balance;
  bank->teller_cowns = make_cowns(tellers);
  for (std::size_t i = 0; i < tellers; ++i) {
    // Shares differ by at most one; every teller issues at least one.
    const std::uint64_t share = transactions / tellers + (i < transactions % tellers ? 1 : 0);
    bank->tellers.push_back({0x9e3779b97f4a7c15ull * (i + 1), share});
  }
  for (std::size_t i = 0; i < tellers; ++i) rt.schedule(new TellerStep(*bank, i));
  return {3 * transactions, [bank] {
            std::int64_t total = 0;
            for (const Bank::Account& a : bank->ledger) {
              if (a.balance < 0) invariant_broken("banking", "an account went negative");
              total += a.balance;
            }
            if (total != opening_balance * static_cast<std::int64_t>(accounts)) {
              invariant_broken("banking", "money not conserved: " + std::to_string(total));
            }
            for (const Bank::Teller& t : bank->tellers) {
              if (t.to_issue != 0) invariant_broken("banking", "a teller did not issue its share");
            }
          }};
}

}  // namespace banking

// --- dining philosophers ---------------------------------------------------
namespace dining {

constexpr std::size_t philosophers = 50;

struct Table {
  std::vector<CownRef> fork_cowns = make_cowns(philosophers);
  std::uint64_t uses[philosophers] = {};  // guarded by fork_cowns[i]
};

class Meal final : public boc::Behaviour {
 public:
  Meal(Table& table, std::size_t philosopher, std::uint64_t left)
      : Behaviour(forks_of(table, philosopher)), table_(table), philosopher_(philosopher), left_(left) {}
  void run() override {
    ++table_.uses[philosopher_];
    ++table_.uses[(philosopher_ + 1) % philosophers];
    if (left_ > 1) this_runtime().schedule(new Meal(table_, philosopher_, left_ - 1));
  }

 private:
  static std::array<Cown*, 2> forks_of(Table& table, std::size_t p) {
    return {table.fork_cowns[p].get(), table.fork_cowns[(p + 1) % philosophers].get()};
  }
  Table& table_;
  std::size_t philosopher_;
  std::uint64_t left_;
};

Workload run(Runtime& rt, std::uint64_t size) {
  auto table = std::make_shared<Table>();
  const std::uint64_t hunger = std::max<std::uint64_t>(1, size / philosophers);
  // Seat everyone from inside the runtime, as Verona's test does: the meals
  // start on one worker and spread from there.
  rt.schedule(boc::make_behaviour(std::span<Cown* const>(), [t = table.get(), hunger] {
    for (std::size_t p = 0; p < philosophers; ++p) this_runtime().schedule(new Meal(*t, p, hunger));
  }));
  return {philosophers * hunger + 1, [table, hunger] {
            for (std::uint64_t u : table->uses) {
              if (u != 2 * hunger) invariant_broken("dining_phil", "a fork used " + std::to_string(u) + " times");
            }
          }};
}

}  // namespace dining

const std::vector<Shape>& all_shapes() {
  static const std::vector<Shape> shapes = {
      {"schedule", schedule_loops},
      {"fanout64", [](Runtime& rt, std::uint64_t n) { return fanout(rt, n, 64); }},
      {"fanout1000", [](Runtime& rt, std::uint64_t n) { return fanout(rt, n, 1000); }},
      {"banking", banking::run},
      {"dining_phil", dining::run},
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

boc::RuntimeSettings settings;  // --pin, --trace
bool verbose = false;

// Every behaviour started and ended once, unless its records were overwritten.
// Per worker, from the events kept: behaviours started, the share of the
// kept span spent in bodies, and the median wait from runnable to started;
// and how often a cown's next behaviour ran on another worker than its last
// (a hop: the cown's state and the behaviour move between caches), with
// the mean cycle of behaviours by cown count, hopped or not.
void print_trace_summary(const boc::TraceLog& log) {
  if (log.events.empty()) return;
  const std::int64_t span = log.events.back().ns - log.events.front().ns;
  std::map<std::uint64_t, std::int64_t> dispatched;  // behaviour -> ns
  std::map<std::uint64_t, std::pair<std::int32_t, std::int64_t>> started;  // behaviour -> worker, ns
  std::vector<std::int64_t> busy(log.workers, 0);
  std::vector<std::vector<std::int64_t>> waits(log.workers);
  std::map<std::uint64_t, std::int32_t> last_worker;  // cown -> worker of its last behaviour
  std::map<std::uint64_t, std::uint64_t> hops_of;     // cown -> hops
  std::uint64_t hops = 0, visits = 0;
  // Per (cowns, hopped): count, and total time from the worker's previous
  // end to this behaviour's end.
  std::map<std::pair<std::uint32_t, bool>, std::pair<std::uint64_t, std::int64_t>> cycles;
  std::vector<std::int64_t> last_end(log.workers, -1);
  std::map<std::uint64_t, std::pair<std::uint32_t, bool>> kind_of;
  for (const boc::TraceEvent& e : log.events) {
    if (e.kind == boc::TraceKind::dispatch) dispatched[e.behaviour] = e.ns;
    if (e.kind == boc::TraceKind::start && e.worker >= 0) {
      started[e.behaviour] = {e.worker, e.ns};
      if (auto d = dispatched.find(e.behaviour); d != dispatched.end()) waits[e.worker].push_back(e.ns - d->second);
      bool hopped = false;
      for (std::uint32_t i = 0; i < e.cowns_count; ++i) {
        const std::uint64_t cown = log.cowns[e.cowns_begin + i];
        auto [it, fresh] = last_worker.try_emplace(cown, e.worker);
        ++visits;
        if (!fresh && it->second != e.worker) ++hops, ++hops_of[cown], hopped = true;
        it->second = e.worker;
      }
      kind_of[e.behaviour] = {e.cowns_count, hopped};
    }
    if (e.kind == boc::TraceKind::end) {
      if (auto s = started.find(e.behaviour); s != started.end()) {
        const std::int32_t w = s->second.first;
        busy[w] += e.ns - s->second.second;
        if (last_end[w] >= 0) {
          auto& c = cycles[kind_of[e.behaviour]];
          ++c.first;
          c.second += e.ns - last_end[w];
        }
        last_end[w] = e.ns;
      }
    }
  }
  for (const auto& [k, c] : cycles) {
    std::printf("    %u cown(s), %s: %llu, mean cycle %.1f ns\n", k.first, k.second ? "hopped" : "stayed",
                static_cast<unsigned long long>(c.first), static_cast<double>(c.second) / static_cast<double>(c.first));
  }
  for (std::size_t w = 0; w < log.workers; ++w) {
    std::vector<std::int64_t>& v = waits[w];
    std::sort(v.begin(), v.end());
    std::printf("    worker %zu: %zu started, %.0f%% of the span in bodies, median wait %lld ns\n", w, v.size(),
                span > 0 ? 100.0 * static_cast<double>(busy[w]) / static_cast<double>(span) : 0.0,
                v.empty() ? 0LL : static_cast<long long>(v[v.size() / 2]));
  }
  std::uint64_t worst = 0, worst_hops = 0;
  for (const auto& [cown, n] : hops_of) {
    if (n > worst_hops) worst = cown, worst_hops = n;
  }
  std::printf("    cown hops: %llu of %llu visits (%.1f%%); most: cown %llu, %llu\n",
              static_cast<unsigned long long>(hops), static_cast<unsigned long long>(visits),
              visits ? 100.0 * static_cast<double>(hops) / static_cast<double>(visits) : 0.0,
              static_cast<unsigned long long>(worst), static_cast<unsigned long long>(worst_hops));
}

void check_trace(const Runtime& rt, std::uint64_t behaviours) {
  const boc::TraceLog log = rt.trace();
  std::uint64_t starts = 0, ends = 0, recorded = 0, overwritten = 0;
  for (const boc::TraceEvent& e : log.events) {
    starts += e.kind == boc::TraceKind::start;
    ends += e.kind == boc::TraceKind::end;
  }
  for (std::size_t i = 0; i < log.recorded.size(); ++i) recorded += log.recorded[i], overwritten += log.overwritten[i];
  const bool complete = overwritten == 0;
  if (starts > behaviours || ends > behaviours || (complete && (starts != behaviours || ends != behaviours))) {
    std::fprintf(stderr, "trace: %llu starts and %llu ends for %llu behaviours (%llu records overwritten)\n",
                 static_cast<unsigned long long>(starts), static_cast<unsigned long long>(ends),
                 static_cast<unsigned long long>(behaviours), static_cast<unsigned long long>(overwritten));
    std::exit(1);
  }
  if (verbose) {
    std::printf("    trace: %llu records, %llu overwritten, %zu events kept\n", static_cast<unsigned long long>(recorded),
                static_cast<unsigned long long>(overwritten), log.events.size());
    print_trace_summary(log);
  }
}

Result measure(const std::string& scheduler, std::size_t workers, const boc::Options& options, const Shape& shape,
               std::uint64_t size) {
  Runtime rt(scheduler, workers, options, settings);
  rt.start();
  const auto t0 = Clock::now();
  Result r;
  const Workload work = shape.run(rt, size);
  r.behaviours = work.behaviours;
  rt.quiesce();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  rt.stop();
  if (work.check) work.check();
  if (settings.trace_events > 0) check_trace(rt, r.behaviours);
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
  std::fprintf(stderr, "%s\nusage: boc_native_bench [--seconds S | --behaviours N] [--reps R] [--workers 1,2] [--schedulers a,b] "
                       "[--shapes a,b] [--opt name=value ...] [--pin] [--trace EVENTS] [--verbose]\n", error);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.6;
  std::uint64_t fixed_size = 0;  // --behaviours
  int reps = 3;
  std::vector<std::size_t> worker_counts = {1, 2};
  std::vector<std::string> schedulers;
  for (const boc::SchedulerInfo* info : boc::Registry::instance().all()) schedulers.push_back(info->name);
  std::vector<std::string> shape_names;
  for (const Shape& s : all_shapes()) shape_names.push_back(s.name);
  std::map<std::string, std::int64_t> extra_options;

  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--verbose") {
      verbose = true;
      continue;
    }
    if (arg == "--pin") {
      settings.pin = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
    const std::string value = argv[++i];
    if (arg == "--seconds") {
      seconds = std::atof(value.c_str());
    } else if (arg == "--behaviours") {
      fixed_size = std::stoull(value);
      if (fixed_size == 0) usage("--behaviours must be positive");
    } else if (arg == "--trace") {
      settings.trace_events = std::stoull(value);
      if (settings.trace_events == 0) usage("--trace takes the records kept per worker, at least 1");
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
        std::uint64_t size = fixed_size;
        if (size == 0) {
          // Trial runs, growing until one takes a tenth of the target, size
          // the measurement.
          Result trial;
          for (std::uint64_t n = 20'000;; n *= 4) {
            trial = measure(scheduler, workers, options, *shape, n);
            if (trial.seconds >= seconds / 10 || n > (1ull << 40)) break;
          }
          const double per = std::max(trial.ns_per_behaviour(), 1.0);
          size = static_cast<std::uint64_t>(seconds * 1e9 / per);
        }
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
