#include "boc/trace.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <unordered_map>

namespace boc {

namespace {

// A record with where it came from and its time in nanoseconds.
struct Placed {
  TraceRecord record;
  std::int32_t worker;
  std::int64_t ns;
};

}  // namespace

const char* trace_kind_name(TraceKind kind) noexcept {
  switch (kind) {
    case TraceKind::dispatch: return "dispatch";
    case TraceKind::start: return "start";
    case TraceKind::end: return "end";
    case TraceKind::steal: return "steal";
    case TraceKind::park: return "park";
    case TraceKind::wake: return "wake";
    case TraceKind::move: return "move";
  }
  return "?";
}

TraceRing::TraceRing(std::size_t capacity) : records_(new TraceRecord[capacity]()), capacity_(capacity) {
  if (capacity == 0) throw std::invalid_argument("a trace ring holds at least one record");
}

std::vector<TraceRecord> TraceRing::records() const {
  std::vector<TraceRecord> out;
  if (written_ <= capacity_) {
    out.assign(records_.get(), records_.get() + next_);
  } else {
    out.assign(records_.get() + next_, records_.get() + capacity_);
    out.insert(out.end(), records_.get(), records_.get() + next_);
  }
  return out;
}

Trace::Trace(std::size_t workers, std::size_t capacity, std::vector<std::string> sources)
    : outside_(capacity),
      sources_(std::move(sources)),
      capacity_(capacity),
      start_tick_(platform::tick()),
      start_ns_(platform::now_ns()) {
  for (std::size_t i = 0; i < workers; ++i) rings_.push_back(std::make_unique<TraceRing>(capacity));
}

TraceLog Trace::events() const {
  TraceLog log;
  log.sources = sources_;
  log.workers = rings_.size();
  log.capacity = capacity_;

  // Ticks to nanoseconds since the start, at the rate seen since then.
  double ns_per_tick = 1.0;
  if constexpr (!platform::tick_is_nanoseconds()) {
    const std::uint64_t ticks = platform::tick() - start_tick_;
    const std::int64_t ns = platform::now_ns() - start_ns_;
    if (ticks > 0 && ns > 0) ns_per_tick = static_cast<double>(ns) / static_cast<double>(ticks);
  }
  std::vector<Placed> placed;
  auto take = [&](const TraceRing& ring, std::int32_t worker) {
    // A ring's records are in the order its thread (or, for the outside
    // ring, its mutex) wrote them. A thread moved to another core can read
    // a counter a little behind the last one; keeping each ring's times
    // from going back keeps that order through the sort below.
    std::int64_t last = std::numeric_limits<std::int64_t>::min();
    for (const TraceRecord& r : ring.records()) {
      const double since = static_cast<double>(static_cast<std::int64_t>(r.tick - start_tick_));
      last = std::max(last, static_cast<std::int64_t>(since * ns_per_tick));
      placed.push_back({r, worker, last});
    }
    log.recorded.push_back(ring.written());
    log.overwritten.push_back(ring.overwritten());
  };
  for (std::size_t i = 0; i < rings_.size(); ++i) take(*rings_[i], static_cast<std::int32_t>(i));
  {
    std::lock_guard<std::mutex> guard(outside_mutex_);
    take(outside_, -1);
  }
  // Stable: a start's cown records share its tick and follow it in its ring.
  // Ticks are read without serialising the CPU, and a thread can be
  // preempted between reading one and acting: across workers, order within
  // a few hundred nanoseconds is not causal order.
  std::stable_sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) { return a.ns < b.ns; });

  // Number the behaviours 1, 2, ... in order of their first record.
  std::unordered_map<std::uint64_t, std::uint64_t> number;
  for (const Placed& p : placed) {
    if (p.record.behaviour != 0) number.try_emplace(p.record.behaviour, number.size() + 1);
  }

  // Events in time order; a start collects the cown records that follow it
  // (same tick, same ring: contiguous after the stable sort).
  std::unordered_map<std::uint64_t, std::size_t> start_of;  // behaviour number -> event index
  for (std::size_t i = 0; i < placed.size(); ++i) {
    const Placed& p = placed[i];
    const TraceRecord& r = p.record;
    if (r.kind == TraceRecord::cown) {
      auto it = start_of.find(number[r.behaviour]);
      if (it != start_of.end()) {  // else its start was overwritten
        log.cowns.push_back(r.detail);
        ++log.events[it->second].cowns_count;
      }
      continue;
    }
    TraceEvent e;
    e.ns = p.ns;
    e.kind = static_cast<TraceKind>(r.kind);
    e.worker = p.worker;
    e.behaviour = r.behaviour == 0 ? 0 : number[r.behaviour];
    switch (r.kind) {
      case TraceRecord::start:
        start_of[e.behaviour] = log.events.size();
        e.other = r.other;
        e.cowns_begin = static_cast<std::uint32_t>(log.cowns.size());
        if (r.has_cown) {
          log.cowns.push_back(r.detail);
          e.cowns_count = 1;
        }
        break;
      case TraceRecord::steal:
        e.other = r.other;
        e.count = r.detail;
        break;
      case TraceRecord::move:
        e.count = static_cast<std::uint64_t>(r.other);
        e.cowns_begin = static_cast<std::uint32_t>(log.cowns.size());
        e.cowns_count = 1;
        log.cowns.push_back(r.detail);
        break;
      default:
        break;
    }
    log.events.push_back(e);
  }
  return log;
}

}  // namespace boc
