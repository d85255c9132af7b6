// Tracing: a timeline of what every worker did, when.
//
// Off by default (RuntimeSettings::trace_events == 0), and then nothing is
// recorded: the worker loop is compiled without it and the few places an
// outside thread or a body can reach test one pointer. When on, every worker
// writes records into a ring of its own (no sharing, no atomics: only its
// thread writes, and the rings are read once the workers have stopped);
// outside threads share one ring under a mutex. A full ring overwrites its
// oldest records and counts them, so a long run keeps its end.
//
// Records carry a tick (platform::tick) and a behaviour's trace id, given
// when it is dispatched (Behaviour::trace_id); Trace::events() turns them
// into nanoseconds since the trace began and behaviour numbers 1, 2, ... in
// order of first sight.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "boc/platform.h"

namespace boc {

// What happened. Per kind, what `other` and `count` of a TraceEvent mean:
//   dispatch  the behaviour became runnable (it holds all its cowns), on the
//             timeline of the thread that made it so
//   start     a worker took the behaviour and began its body; other: where
//             it was found, an index into TraceLog::sources (the strategy's
//             source counter that counted it; -1 if it has none): which
//             queue it waited in, with the steal before it for "stolen";
//             the event's cowns are the behaviour's
//   end       the body returned; its cowns are handed on next
//   steal     the worker took work from a peer; other: the victim,
//             count: the behaviours taken (one runs now, the rest queue)
//   park      the worker went to sleep for want of work
//   wake      it woke up
//   move      the running behaviour's body used a cown value that had to
//             move into this worker's interpreter (the "subinterpreters"
//             executor; at most once per cown and behaviour, as the
//             values_moved_in counter counts); count: its bytes in transit,
//             the event's one cown: the cown
enum class TraceKind : std::uint8_t { dispatch, start, end, steal, park, wake, move };

// The name of a kind, as TraceLog and the Python frame spell it.
const char* trace_kind_name(TraceKind kind) noexcept;

// One record as a worker writes it: 32 bytes.
struct TraceRecord {
  // Kinds of record: the events' kinds, plus one that completes the record
  // before it (a further cown of a start).
  enum Kind : std::uint8_t { dispatch, start, end, steal, park, wake, move, cown };

  std::uint64_t tick;
  std::uint64_t behaviour;  // its trace id; 0 for steal, park and wake
  std::uint64_t detail;   // start (if it has cowns), cown, move: a cown id; steal: behaviours taken
  std::int32_t other;     // as TraceEvent::other; move: the bytes (at most INT32_MAX)
  Kind kind;
  bool has_cown;          // start: whether `detail` is its first cown (the rest follow as cown records)
};

// A bounded ring of records with one writer.
static_assert(sizeof(TraceRecord) == 32);

class TraceRing {
 public:
  explicit TraceRing(std::size_t capacity);

  void record(TraceRecord::Kind kind, std::uint64_t tick, std::uint64_t behaviour = 0,
              std::uint64_t detail = 0, std::int32_t other = -1, bool has_cown = false) noexcept {
    records_[next_] = TraceRecord{tick, behaviour, detail, other, kind, has_cown};
    if (++next_ == capacity_) next_ = 0;
    ++written_;
  }
  std::uint64_t written() const noexcept { return written_; }
  std::uint64_t overwritten() const noexcept { return written_ > capacity_ ? written_ - capacity_ : 0; }
  // The records still held, oldest first.
  std::vector<TraceRecord> records() const;

  // A fresh behaviour id (never 0), from a block this ring's writer took
  // from `ids`. Ids wrap after 2^32 dispatches, far more than a trace keeps.
  std::uint32_t new_id(std::atomic<std::uint32_t>& ids) noexcept {
    if (next_id_ == end_id_) {
      // Relaxed: only uniqueness matters, which the increment gives.
      next_id_ = ids.fetch_add(id_block, std::memory_order_relaxed);
      end_id_ = next_id_ + id_block;
      if (next_id_ == 0) ++next_id_;
    }
    return next_id_++;
  }

 private:
  static constexpr std::uint32_t id_block = 1024;
  // Zeroed when made: the first write to a fresh page faults, and that
  // cost belongs to starting a traced run, not to its behaviours.
  std::unique_ptr<TraceRecord[]> records_;
  std::size_t capacity_;
  std::size_t next_ = 0;
  std::uint64_t written_ = 0;
  std::uint32_t next_id_ = 0, end_id_ = 0;
};

// One event of a collected trace.
struct TraceEvent {
  std::int64_t ns = 0;         // since the trace began
  TraceKind kind = TraceKind::dispatch;
  std::int32_t worker = -1;    // whose timeline: the recording worker, -1 for outside threads
  std::uint64_t behaviour = 0; // 0 for steal, park and wake; move: the behaviour that ran
  std::int32_t other = -1;     // see TraceKind (-1 where it says nothing)
  std::uint64_t count = 0;     // see TraceKind
  // start: the behaviour's cown ids are TraceLog::cowns[cowns_begin,
  // +cowns_count); move: the cown that moved.
  std::uint32_t cowns_begin = 0;
  std::uint32_t cowns_count = 0;
};

// A collected trace: every event still held, in time order.
struct TraceLog {
  std::vector<TraceEvent> events;
  std::vector<std::uint64_t> cowns;
  // start events' `other`: the strategy's source labels ("next slot", ...).
  std::vector<std::string> sources;
  std::size_t workers = 0;
  std::size_t capacity = 0;  // records per ring
  // Per ring (each worker's, then the outside threads'): records written,
  // and those of them lost to a full ring (the oldest).
  std::vector<std::uint64_t> recorded;
  std::vector<std::uint64_t> overwritten;
};

class Trace {
 public:
  // `capacity` records per ring (at least 1); `sources` labels start events.
  Trace(std::size_t workers, std::size_t capacity, std::vector<std::string> sources);

  TraceRing& ring(std::size_t worker) noexcept { return *rings_[worker]; }

  // A behaviour became runnable, made so by the worker whose ring is `r`:
  // returns the id it is known by from now on.
  std::uint32_t dispatched(TraceRing& r, std::uint64_t tick) noexcept {
    const std::uint32_t id = r.new_id(ids_);
    r.record(TraceRecord::dispatch, tick, id);
    return id;
  }
  // The same, made so by a thread outside the pool.
  std::uint32_t dispatched_outside(std::uint64_t tick) {
    std::lock_guard<std::mutex> guard(outside_mutex_);
    const std::uint32_t id = outside_.new_id(ids_);
    outside_.record(TraceRecord::dispatch, tick, id);
    return id;
  }

  // Collects every ring: only once the workers have stopped (their records
  // are plain memory, made visible to the reader by joining them).
  TraceLog events() const;

 private:
  std::vector<std::unique_ptr<TraceRing>> rings_;
  std::atomic<std::uint32_t> ids_{1};  // 0 is no behaviour
  mutable std::mutex outside_mutex_;
  TraceRing outside_;
  std::vector<std::string> sources_;
  std::size_t capacity_;
  // When the trace began, in ticks and in steady-clock nanoseconds: with a
  // second reading at collection, the rate of ticks.
  std::uint64_t start_tick_;
  std::int64_t start_ns_;
};

}  // namespace boc
