#include "boc/registry.h"

#include <set>
#include <stdexcept>

namespace boc {

const std::vector<CounterInfo>& core_counters() {
  static const std::vector<CounterInfo> counters = {
      {"behaviors_run", "behaviours this worker ran"},
      {"parks", "times this worker blocked waiting for work"},
      {"busy_ns", "nanoseconds this worker was not waiting for work"},
      {"idle_ns", "nanoseconds this worker waited for work"},
  };
  return counters;
}

Registry& Registry::instance() {
  static Registry registry;
  return registry;
}

namespace {

bool is_snake_case(const std::string& s) {
  if (s.empty() || s.front() < 'a' || s.front() > 'z') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::string Registry::registration_error(const SchedulerInfo& info) const {
  if (!is_snake_case(info.name)) return "the name must be lower_snake_case";
  if (entries_.count(info.name) || refused_.count(info.name)) return "the name is registered twice";
  if (info.description.empty()) return "it has no description";
  if (!info.create) return "it has no create function";
  std::set<std::string> options;
  for (const OptionInfo& o : info.options) {
    if (!is_snake_case(o.name)) return "option '" + o.name + "': the name must be lower_snake_case";
    if (!options.insert(o.name).second) return "option '" + o.name + "' is declared twice";
    if (o.description.empty()) return "option '" + o.name + "' has no description";
    if (!(o.min <= o.default_value && o.default_value <= o.max)) {
      return "option '" + o.name + "': the default is outside [min, max]";
    }
  }
  std::set<std::string> counters;
  for (const CounterInfo& c : core_counters()) counters.insert(c.name);
  bool has_source = false;
  for (const CounterInfo& c : info.counters) {
    if (!is_snake_case(c.name)) return "counter '" + c.name + "': the name must be lower_snake_case";
    if (!counters.insert(c.name).second) return "counter '" + c.name + "' is declared twice or is the core's";
    if (c.description.empty()) return "counter '" + c.name + "' has no description";
    if (!c.cell) return "counter '" + c.name + "' has no reader (declare it with boc::strategy)";
    has_source = has_source || !c.source.empty();
  }
  if (!has_source) return "no counter is a source counter (where each behaviour run was found)";
  return "";
}

void Registry::add(SchedulerInfo info) {
  if (std::string error = registration_error(info); !error.empty()) {
    refused_[info.name] = std::move(error);
    return;
  }
  std::string name = info.name;
  entries_.emplace(std::move(name), std::move(info));
}

const SchedulerInfo* Registry::find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<const SchedulerInfo*> Registry::all() const {
  std::vector<const SchedulerInfo*> out;
  for (const auto& [name, info] : entries_) out.push_back(&info);
  return out;
}

const SchedulerInfo& Registry::get(const std::string& name) const {
  if (const SchedulerInfo* info = find(name)) return *info;
  if (auto it = refused_.find(name); it != refused_.end()) {
    throw std::invalid_argument("scheduler '" + name + "' was refused at registration: " + it->second);
  }
  std::string names;
  for (const auto& [known, info] : entries_) names += (names.empty() ? "" : ", ") + known;
  throw std::invalid_argument("unknown scheduler '" + name + "'; available: " + names);
}

Options Registry::resolve_options(const SchedulerInfo& info, const Options& given) {
  Options resolved;
  for (const OptionInfo& o : info.options) resolved[o.name] = o.default_value;
  for (const auto& [name, value] : given) {
    const OptionInfo* spec = nullptr;
    for (const OptionInfo& o : info.options) {
      if (o.name == name) spec = &o;
    }
    if (spec == nullptr) {
      std::string names;
      for (const OptionInfo& o : info.options) names += (names.empty() ? "" : ", ") + o.name;
      throw std::invalid_argument("unknown option '" + name + "' for scheduler '" + info.name +
                                  "'; " +
                                  (names.empty() ? "it takes no options" : "valid options: " + names));
    }
    if (value < spec->min || value > spec->max) {
      throw std::invalid_argument("option '" + name + "' of scheduler '" + info.name + "' must be in [" +
                                  std::to_string(spec->min) + ", " + std::to_string(spec->max) +
                                  "], got " + std::to_string(value));
    }
    resolved[name] = value;
  }
  return resolved;
}

}  // namespace boc
