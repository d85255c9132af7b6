// The registry of strategies: lookup, option checking, and what every
// registered strategy must provide.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "boc/registry.h"
#include "boc/runtime.h"
#include "test_support.h"

namespace boc {
namespace {

using test::when;

// Runs `f`, which must throw std::invalid_argument, and returns its message.
template <typename F>
std::string invalid_argument_message(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (...) {
    ADD_FAILURE() << "threw something other than std::invalid_argument";
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A well-formed strategy description that is never registered globally,
// for option checks and for what the registry refuses.
SchedulerInfo sample_info() {
  SchedulerInfo info;
  info.name = "sample";
  info.description = "for tests";
  info.options = {
      {"batch", "items per batch", 8, 1, 64},
      {"spins", "spins before parking", 0, -5, 1000},
  };
  const auto zero = [](const Scheduler&, std::size_t) -> std::uint64_t { return 0; };
  info.counters = {{"pops", "behaviours taken", "queue", zero}, {"wakes", "workers woken", "", zero}};
  info.create = [](const Options&) -> std::unique_ptr<Scheduler> { return nullptr; };
  return info;
}

TEST(Registry, HasCentral) { EXPECT_NE(Registry::instance().find("central"), nullptr); }

TEST(Registry, AllIsSortedByNameAndComplete) {
  const auto all = Registry::instance().all();
  ASSERT_FALSE(all.empty());
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1]->name, all[i]->name);
  for (const SchedulerInfo* info : all) {
    EXPECT_EQ(Registry::instance().find(info->name), info);
    EXPECT_EQ(&Registry::instance().get(info->name), info);
  }
}

TEST(Registry, UnknownSchedulerNamesTheAvailableOnes) {
  EXPECT_EQ(Registry::instance().find("no-such-strategy"), nullptr);
  const std::string msg = invalid_argument_message([] { Registry::instance().get("no-such-strategy"); });
  EXPECT_TRUE(contains(msg, "no-such-strategy")) << msg;
  for (const SchedulerInfo* info : Registry::instance().all()) EXPECT_TRUE(contains(msg, info->name)) << msg;

  const std::string from_runtime = invalid_argument_message([] { Runtime rt("no-such-strategy", 1); });
  for (const SchedulerInfo* info : Registry::instance().all()) {
    EXPECT_TRUE(contains(from_runtime, info->name)) << from_runtime;
  }
}

TEST(Registry, NothingCompiledInWasRefused) {
  for (const auto& [name, reason] : Registry::instance().refused()) ADD_FAILURE() << name << ": " << reason;
}

TEST(Registry, DuplicateRegistrationIsRefused) {
  Registry local;  // not the global one: leave that untouched
  local.add(sample_info());
  local.add(sample_info());
  EXPECT_NE(local.find("sample"), nullptr);
  EXPECT_EQ(local.all().size(), 1u);
}

// Each way a registration can be malformed, and the reason get() gives.
TEST(Registry, MalformedRegistrationsAreRefusedWithTheReason) {
  using Change = void (*)(SchedulerInfo&);
  const std::vector<std::pair<Change, std::string>> cases = {
      {[](SchedulerInfo& i) { i.name = "Bad-Name"; }, "the name must be lower_snake_case"},
      {[](SchedulerInfo& i) { i.description.clear(); }, "it has no description"},
      {[](SchedulerInfo& i) { i.create = nullptr; }, "it has no create function"},
      {[](SchedulerInfo& i) { i.options[1].name = "batch"; }, "option 'batch' is declared twice"},
      {[](SchedulerInfo& i) { i.options[0].default_value = 100; }, "option 'batch': the default is outside"},
      {[](SchedulerInfo& i) { i.counters[1].name = "pops"; }, "counter 'pops' is declared twice or is the core's"},
      {[](SchedulerInfo& i) { i.counters[1].name = "parks"; }, "counter 'parks' is declared twice or is the core's"},
      {[](SchedulerInfo& i) { i.counters[0].description.clear(); }, "counter 'pops' has no description"},
      {[](SchedulerInfo& i) { i.counters[1].cell = nullptr; }, "counter 'wakes' has no reader"},
      {[](SchedulerInfo& i) { i.counters[0].source.clear(); }, "no counter is a source counter"},
  };
  for (const auto& [change, reason] : cases) {
    SCOPED_TRACE(reason);
    Registry local;
    SchedulerInfo info = sample_info();
    change(info);
    local.add(info);
    EXPECT_TRUE(local.all().empty());
    ASSERT_EQ(local.refused().size(), 1u);
    EXPECT_TRUE(contains(local.refused().begin()->second, reason)) << local.refused().begin()->second;
    const std::string msg = invalid_argument_message([&] { local.get(info.name); });
    EXPECT_TRUE(contains(msg, "was refused at registration: " + reason)) << msg;
  }
}

TEST(Registry, CoreCounters) {
  std::vector<std::string> names;
  for (const CounterInfo& c : core_counters()) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"behaviors_run", "parks", "busy_ns", "idle_ns"}));
}

TEST(ResolveOptions, FillsInDefaults) {
  const SchedulerInfo info = sample_info();
  EXPECT_EQ(Registry::resolve_options(info, {}), (Options{{"batch", 8}, {"spins", 0}}));
  EXPECT_EQ(Registry::resolve_options(info, {{"spins", 7}}), (Options{{"batch", 8}, {"spins", 7}}));
}

TEST(ResolveOptions, AcceptsTheBounds) {
  const SchedulerInfo info = sample_info();
  EXPECT_EQ(Registry::resolve_options(info, {{"batch", 1}, {"spins", -5}}), (Options{{"batch", 1}, {"spins", -5}}));
  EXPECT_EQ(Registry::resolve_options(info, {{"batch", 64}, {"spins", 1000}}),
            (Options{{"batch", 64}, {"spins", 1000}}));
}

TEST(ResolveOptions, RejectsUnknownNamesListingValidOnes) {
  const SchedulerInfo info = sample_info();
  const std::string msg = invalid_argument_message([&] { Registry::resolve_options(info, {{"bacth", 2}}); });
  EXPECT_TRUE(contains(msg, "bacth")) << msg;
  EXPECT_TRUE(contains(msg, "batch")) << msg;
  EXPECT_TRUE(contains(msg, "spins")) << msg;
}

TEST(ResolveOptions, RejectsAnyNameWhenThereAreNoOptions) {
  SchedulerInfo info = sample_info();
  info.options.clear();
  EXPECT_TRUE(Registry::resolve_options(info, {}).empty());
  const std::string msg = invalid_argument_message([&] { Registry::resolve_options(info, {{"batch", 2}}); });
  EXPECT_TRUE(contains(msg, "batch")) << msg;
  EXPECT_TRUE(contains(msg, "no options")) << msg;
}

TEST(ResolveOptions, RejectsOutOfRangeValues) {
  const SchedulerInfo info = sample_info();
  const std::vector<std::pair<std::string, std::int64_t>> bad = {
      {"batch", 0}, {"batch", 65}, {"spins", -6}, {"spins", 1001}, {"batch", std::numeric_limits<std::int64_t>::min()}};
  for (const auto& option : bad) {
    const std::string& name = option.first;
    const std::int64_t value = option.second;
    const std::string msg = invalid_argument_message([&] { Registry::resolve_options(info, {{name, value}}); });
    EXPECT_TRUE(contains(msg, name)) << msg;
    EXPECT_TRUE(contains(msg, std::to_string(value))) << msg;
  }
}

// ---------------------------------------------------------------------------
// What every registered strategy provides.

class EveryScheduler : public test::PerScheduler {};
BOC_FOR_EVERY_SCHEDULER(EveryScheduler);

TEST_P(EveryScheduler, IsDescribed) {
  const SchedulerInfo& info = Registry::instance().get(scheduler());
  EXPECT_FALSE(info.description.empty());
  EXPECT_TRUE(static_cast<bool>(info.create));
  std::set<std::string> names;
  for (const CounterInfo& c : info.counters) {
    EXPECT_FALSE(c.name.empty());
    EXPECT_FALSE(c.description.empty()) << c.name;
    EXPECT_TRUE(names.insert(c.name).second) << "counter " << c.name << " twice";
  }
  for (const CounterInfo& c : core_counters()) EXPECT_FALSE(names.count(c.name)) << c.name << " is the core's";
  std::set<std::string> options;
  for (const OptionInfo& o : info.options) {
    EXPECT_FALSE(o.description.empty()) << o.name;
    EXPECT_TRUE(options.insert(o.name).second) << "option " << o.name << " twice";
    EXPECT_LE(o.min, o.default_value) << o.name;
    EXPECT_LE(o.default_value, o.max) << o.name;
  }
}

TEST_P(EveryScheduler, RuntimeResolvesOptions) {
  const SchedulerInfo& info = Registry::instance().get(scheduler());
  Runtime rt(scheduler(), 1);
  EXPECT_EQ(rt.options(), Registry::resolve_options(info, {}));
  EXPECT_EQ(rt.options().size(), info.options.size());

  const std::string msg = invalid_argument_message([&] { Runtime bad(scheduler(), 1, {{"no_such_option", 1}}); });
  EXPECT_TRUE(contains(msg, "no_such_option")) << msg;
  if (info.options.empty()) {
    EXPECT_TRUE(contains(msg, "no options")) << msg;
  } else {
    for (const OptionInfo& o : info.options) EXPECT_TRUE(contains(msg, o.name)) << msg;
  }
  for (const OptionInfo& o : info.options) {
    if (o.min > std::numeric_limits<std::int64_t>::min()) {
      EXPECT_THROW(Runtime(scheduler(), 1, {{o.name, o.min - 1}}), std::invalid_argument) << o.name;
    }
    if (o.max < std::numeric_limits<std::int64_t>::max()) {
      EXPECT_THROW(Runtime(scheduler(), 1, {{o.name, o.max + 1}}), std::invalid_argument) << o.name;
    }
  }
}

TEST_P(EveryScheduler, ZeroWorkersIsRejected) {
  EXPECT_THROW(Runtime(scheduler(), 0), std::invalid_argument);
}

// Each option at its bounds still gives a working runtime (bounds too large
// to try cheaply, such as a capacity of 2^40, are skipped).
TEST_P(EveryScheduler, WorksWithEachOptionAtItsBounds) {
  const SchedulerInfo& info = Registry::instance().get(scheduler());
  constexpr std::int64_t cheap = 1 << 16;
  for (const OptionInfo& o : info.options) {
    for (std::int64_t value : {o.min, o.max}) {
      if (value > cheap || value < -cheap) continue;
      SCOPED_TRACE(o.name + " = " + std::to_string(value));
      test::CownPool pool(3);
      std::atomic<int> ran{0};
      Runtime rt(scheduler(), 2, {{o.name, value}});
      EXPECT_EQ(rt.options().at(o.name), value);
      rt.start();
      for (int i = 0; i < 200; ++i) {
        when(rt, {pool[i % 3], pool[(i + 1) % 3]}, [&] {
          ran++;
          if (ran.load() % 4 == 0) when(WorkerContext::current()->runtime(), {pool[0]}, [&] { ran++; });
        });
      }
      test::stop_or_abort(rt);
      EXPECT_EQ(static_cast<std::uint64_t>(ran.load()), test::total_behaviours_run(rt));
    }
  }
}

}  // namespace
}  // namespace boc
