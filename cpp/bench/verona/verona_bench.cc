// boc_native_bench's schedule, banking and dining_phil shapes written
// against Verona-RT's own API, so that the two runtimes run the same work.
//
//   verona_bench --shape schedule|banking|dining_phil --workers N --behaviours B
//
// Prints one line, `shape workers behaviours seconds ns_per_behaviour`.
//
// The shapes match boc's line for line (see cpp/bench/native_bench.cpp):
//   schedule     256 cowns; on each a chain of behaviours, each scheduling
//                the next on the same cown (Verona's one-cown fast path,
//                schedule_lambda, as its own perf test uses).
//   banking      36 accounts, one log, one teller per worker; a teller step
//                picks two distinct accounts with the same xorshift, moves
//                100 if the source has it, every transfer logs an empty
//                entry on the log cown: 3 behaviours per transaction.
//   dining_phil  50 forks; one zero-cown behaviour seats every philosopher;
//                each meal counts a use of both forks and schedules the next.
// Bodies do nothing else: no clock reads, no strings, no busy loop.
//
// What still differs, and cannot be removed without changing Verona:
//   - Verona's clock covers starting and joining its worker threads
//     (Scheduler::run does both); boc's does not. Runs are sized to take
//     about half a second, next to which a thread start is noise.
//   - Verona allocates with snmalloc, boc from its recycler, which takes
//     fresh blocks from the system's allocator or from mimalloc
//     (BOC_ALLOCATOR).
//   - Verona pins each worker to a core; boc pins only with pin=true.
#include <cpp/when.h>
#include <verona.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace verona::cpp;
namespace rt = verona::rt;

std::uint64_t xorshift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

[[noreturn]] void invariant_broken(const char* shape, const std::string& what) {
  std::fprintf(stderr, "%s: invariant broken: %s\n", shape, what.c_str());
  std::exit(1);
}

// --- schedule --------------------------------------------------------------
struct Chain : public rt::VCown<Chain> {
  std::uint64_t left;
  explicit Chain(std::uint64_t left) : left(left) {}
};

void step(Chain* c) {
  rt::schedule_lambda(c, [c] {
    if (--c->left > 0) {
      step(c);
    } else {
      rt::Cown::release(c);  // the chain's reference: the cown goes once idle
    }
  });
}

std::uint64_t schedule_loops(std::size_t, std::uint64_t size) {
  constexpr std::uint64_t chains = 256;
  const std::uint64_t times = std::max<std::uint64_t>(1, size / chains);
  for (std::uint64_t i = 0; i < chains; ++i) step(new Chain(times));
  return chains * times;
}

// --- banking ---------------------------------------------------------------
namespace banking {

constexpr std::size_t accounts = 36;
constexpr std::int64_t opening_balance = 1000;
constexpr std::int64_t amount = 100;

struct Account {
  std::int64_t balance = opening_balance;
};
struct Log {};
struct Teller {
  std::uint64_t rng;
  std::uint64_t to_issue;
};

struct Bank {
  std::vector<cown_ptr<Account>> accounts;
  cown_ptr<Log> log = make_cown<Log>();
  std::vector<cown_ptr<Teller>> tellers;
};

Bank* bank = nullptr;

void teller_step(cown_ptr<Teller> teller) {
  when(teller) << [](acquired_cown<Teller> t) {
    const std::size_t from = xorshift(t->rng) % accounts;
    const std::size_t to = (from + 1 + xorshift(t->rng) % (accounts - 1)) % accounts;
    when(bank->accounts[from], bank->accounts[to]) << [](acquired_cown<Account> a, acquired_cown<Account> b) {
      if (a->balance >= amount) {
        a->balance -= amount;
        b->balance += amount;
      }
      when(bank->log) << [](acquired_cown<Log>) {};
    };
    if (--t->to_issue > 0) teller_step(t.cown());
  };
}

std::uint64_t run(std::size_t workers, std::uint64_t size) {
  bank = new Bank;
  for (std::size_t i = 0; i < accounts; ++i) bank->accounts.push_back(make_cown<Account>());
  const std::uint64_t transactions = std::max<std::uint64_t>(workers, size / 3);
  for (std::size_t i = 0; i < workers; ++i) {
    const std::uint64_t share = transactions / workers + (i < transactions % workers ? 1 : 0);
    bank->tellers.push_back(make_cown<Teller>(Teller{0x9e3779b97f4a7c15ull * (i + 1), share}));
  }
  for (std::size_t i = 0; i < workers; ++i) teller_step(bank->tellers[i]);
  return 3 * transactions;
}

void check() {
  // Read through behaviours, in a second run of the scheduler.
  std::int64_t total = 0;
  std::vector<std::int64_t> balances(accounts);
  rt::Scheduler::get().init(1);
  for (std::size_t i = 0; i < accounts; ++i) {
    when(bank->accounts[i]) << [&balances, i](acquired_cown<Account> a) { balances[i] = a->balance; };
  }
  rt::Scheduler::get().run();
  for (std::int64_t b : balances) {
    if (b < 0) invariant_broken("banking", "an account went negative");
    total += b;
  }
  if (total != opening_balance * static_cast<std::int64_t>(accounts)) {
    invariant_broken("banking", "money not conserved: " + std::to_string(total));
  }
  delete bank;
}

}  // namespace banking

// --- dining philosophers ---------------------------------------------------
namespace dining {

constexpr std::size_t philosophers = 50;

struct Fork {
  std::uint64_t uses = 0;
};

std::vector<cown_ptr<Fork>>* forks = nullptr;
std::uint64_t hunger = 0;

void meal(std::size_t p, std::uint64_t left) {
  when((*forks)[p], (*forks)[(p + 1) % philosophers])
      << [p, left](acquired_cown<Fork> a, acquired_cown<Fork> b) {
           ++a->uses;
           ++b->uses;
           if (left > 1) meal(p, left - 1);
         };
}

std::uint64_t run(std::size_t, std::uint64_t size) {
  forks = new std::vector<cown_ptr<Fork>>;
  for (std::size_t i = 0; i < philosophers; ++i) forks->push_back(make_cown<Fork>());
  hunger = std::max<std::uint64_t>(1, size / philosophers);
  when() << [] {
    for (std::size_t p = 0; p < philosophers; ++p) meal(p, hunger);
  };
  return philosophers * hunger + 1;
}

void check() {
  std::vector<std::uint64_t> uses(philosophers);
  rt::Scheduler::get().init(1);
  for (std::size_t i = 0; i < philosophers; ++i) {
    when((*forks)[i]) << [&uses, i](acquired_cown<Fork> f) { uses[i] = f->uses; };
  }
  rt::Scheduler::get().run();
  for (std::uint64_t u : uses) {
    if (u != 2 * hunger) invariant_broken("dining_phil", "a fork used " + std::to_string(u) + " times");
  }
  delete forks;
}

}  // namespace dining

[[noreturn]] void usage(const char* error) {
  std::fprintf(stderr,
               "%s\nusage: verona_bench --shape schedule|banking|dining_phil --workers N --behaviours B\n",
               error);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string shape;
  std::size_t workers = 1;
  std::uint64_t behaviours = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 >= argc) usage("every option takes a value");
    const std::string arg = argv[i], value = argv[++i];
    if (arg == "--shape") {
      shape = value;
    } else if (arg == "--workers") {
      workers = std::strtoull(value.c_str(), nullptr, 10);
    } else if (arg == "--behaviours") {
      behaviours = std::strtoull(value.c_str(), nullptr, 10);
    } else {
      usage(("unknown option " + arg).c_str());
    }
  }
  if (workers == 0 || behaviours == 0) usage("--workers and --behaviours must be positive");

  std::uint64_t (*schedule)(std::size_t, std::uint64_t) = nullptr;
  void (*check)() = nullptr;
  if (shape == "schedule") {
    schedule = schedule_loops;
  } else if (shape == "banking") {
    schedule = banking::run;
    check = banking::check;
  } else if (shape == "dining_phil") {
    schedule = dining::run;
    check = dining::check;
  } else {
    usage(("unknown shape '" + shape + "'").c_str());
  }

  auto& sched = rt::Scheduler::get();
  sched.init(workers);
  const std::uint64_t n = schedule(workers, behaviours);
  const auto t0 = std::chrono::steady_clock::now();
  sched.run();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (check != nullptr) check();
  std::printf("%s %zu %llu %.6f %.2f\n", shape.c_str(), workers, static_cast<unsigned long long>(n), seconds,
              seconds * 1e9 / static_cast<double>(n));
  return 0;
}
