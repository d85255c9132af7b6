#include "boc/registry.h"

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

void Registry::add(SchedulerInfo info) {
  std::string name = info.name;
  if (!entries_.emplace(name, std::move(info)).second) {
    throw std::logic_error("scheduler '" + name + "' is registered twice");
  }
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
