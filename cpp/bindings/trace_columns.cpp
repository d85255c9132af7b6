#include "trace_columns.h"

#include <nanobind/stl/string.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nb = nanobind;

namespace boc::python {

namespace {

template <class T, class Field>
nb::bytes column(const TraceLog& log, Field field) {
  std::vector<T> values;
  values.reserve(log.events.size());
  for (const TraceEvent& e : log.events) values.push_back(static_cast<T>(field(e)));
  return nb::bytes(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

nb::list listed(const std::vector<std::uint64_t>& values) {
  nb::list out;
  for (std::uint64_t v : values) out.append(v);
  return out;
}

}  // namespace

nb::dict trace_columns(const TraceLog& log) {
  nb::dict d;
  d["ns"] = column<std::int64_t>(log, [](const TraceEvent& e) { return e.ns; });
  d["kind"] = column<std::uint8_t>(log, [](const TraceEvent& e) { return e.kind; });
  d["worker"] = column<std::int32_t>(log, [](const TraceEvent& e) { return e.worker; });
  d["behaviour"] = column<std::uint64_t>(log, [](const TraceEvent& e) { return e.behaviour; });
  d["other"] = column<std::int32_t>(log, [](const TraceEvent& e) { return e.other; });
  d["count"] = column<std::uint64_t>(log, [](const TraceEvent& e) { return e.count; });
  d["cowns_begin"] = column<std::uint32_t>(log, [](const TraceEvent& e) { return e.cowns_begin; });
  d["cowns_count"] = column<std::uint32_t>(log, [](const TraceEvent& e) { return e.cowns_count; });
  d["cowns"] = nb::bytes(reinterpret_cast<const char*>(log.cowns.data()), log.cowns.size() * sizeof(std::uint64_t));
  nb::list kinds;
  for (TraceKind k : {TraceKind::dispatch, TraceKind::start, TraceKind::end, TraceKind::steal, TraceKind::park,
                      TraceKind::wake, TraceKind::move}) {
    kinds.append(trace_kind_name(k));
  }
  d["kinds"] = kinds;
  nb::list sources;
  for (const std::string& s : log.sources) sources.append(s);
  d["sources"] = sources;
  d["workers"] = log.workers;
  d["capacity"] = log.capacity;
  d["recorded"] = listed(log.recorded);
  d["overwritten"] = listed(log.overwritten);
  return d;
}

}  // namespace boc::python
