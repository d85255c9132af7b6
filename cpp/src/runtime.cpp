#include "boc/runtime.h"

#include <stdexcept>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

#include "boc/platform.h"

namespace boc {

Runtime::Runtime(const std::string& scheduler, std::size_t workers, const Options& options,
                 const RuntimeSettings& settings)
    : info_(Registry::instance().get(scheduler)),
      options_(Registry::resolve_options(info_, options)),
      settings_(settings) {
  if (workers == 0) throw std::invalid_argument("a runtime needs at least one worker");
  scheduler_ = info_.create(options_);
  std::vector<std::string> labels;
  for (const CounterInfo& c : info_.counters) {
    if (c.source.empty()) continue;
    sources_.push_back(&c);
    labels.push_back(c.source);
  }
  if (settings_.trace_events > 0) {
    trace_ = std::make_unique<Trace>(workers, settings_.trace_events, std::move(labels));
    scheduler_->trace_ = trace_.get();
  }
  scheduler_->attach(workers);
  for (std::size_t i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<WorkerContext>(*this, i));
    if (trace_) workers_.back()->trace_ = &trace_->ring(i);
  }
}

Runtime::~Runtime() { stop(); }

void Runtime::start() {
  if (running_ || stopped_) throw std::logic_error("a runtime starts once");
  running_ = true;
  for (auto& w : workers_) {
    threads_.emplace_back([this, ctx = w.get()] {
      if (trace_) {
        worker_loop<true>(*ctx);
      } else {
        worker_loop<false>(*ctx);
      }
    });
  }
}

void Runtime::close() noexcept {
  // seq_cst, against an outside schedule(): see Terminator::add_outside.
  closed_.store(true, std::memory_order_seq_cst);
}

void Runtime::forsake() noexcept {
  // Relaxed: read only by threads of the forked child that schedule later,
  // ordered after this by program order or by their own creation.
  forsaken_.store(true, std::memory_order_relaxed);
  close();
}

std::int64_t Runtime::behaviours_in_flight() const noexcept {
  std::int64_t n = terminator_.in_flight();
  for (const auto& w : workers_) n -= w->credits_.get();
  return n > 0 ? n : 0;
}

void Runtime::stop() {
  close();
  if (!running_) return;
  quiesce();
  scheduler_->request_stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  running_ = false;
  stopped_ = true;
}

bool Runtime::quiesce(std::optional<std::chrono::nanoseconds> timeout) {
  auto deadline = Terminator::Clock::time_point::max();
  if (timeout) deadline = Terminator::Clock::now() + *timeout;
  scheduler_->outside_waiting(true);
  const bool quiet = terminator_.wait_until(deadline);
  scheduler_->outside_waiting(false);
  return quiet;
}

// Scheduling over the cowns' request queues.
//
// References: a behaviour borrows its cowns (see behaviour.h); a cown's
// queue holds one reference of its own from the moment a request finds it
// empty until the last request lets go and empties it again. So a queue
// that stays busy, a chain of behaviours on one cown, costs no reference
// counting at all, and a cown outlives every request on it.
void Runtime::schedule(Behaviour* b) {
  WorkerContext* const here = local_worker();
  if (here != nullptr) {
    terminator_.add(here->credits_);  // a worker's body: accepted even once closed
  } else {
    terminator_.add_outside();
    // seq_cst, against close(): see Terminator::add_outside.
    if (closed_.load(std::memory_order_seq_cst)) {
      terminator_.discard();
      delete b;
      throw RuntimeClosed();
    }
  }
  b->runtime_ = this;
  if (b->count_ == 1) {
    schedule_one(b, here);
  } else {
    schedule_many(b, here);
  }
}

BOC_ALWAYS_INLINE void Runtime::link_behind(Slot* prev, Slot& slot) noexcept {
  // Link behind the predecessor only once its behaviour has queued on all
  // of its cowns. Otherwise two behaviours could each get ahead of the
  // other on different cowns and wait for each other for ever.
  platform::spin_until([&] { return prev->scheduled.load(std::memory_order_acquire); });
  // Release: the predecessor reads `next` (acquire) when it lets go of the
  // cown and then touches this slot's behaviour.
  prev->next.store(&slot, std::memory_order_release);
}

// One cown: whoever hands the behaviour that cown (this thread, or the
// holder before it) dispatches it, with no countdown.
BOC_ALWAYS_INLINE void Runtime::schedule_one(Behaviour* b, WorkerContext* here) {
  Slot& slot = b->slots_[0];
  // acq_rel, as in schedule_many.
  Slot* prev = slot.cown->last_.exchange(&slot, std::memory_order_acq_rel);
  if (prev == nullptr || forsaken_request(prev)) {
    if (prev == nullptr) slot.cown->retain();  // the queue's (the caller's kept the cown alive until here)
    slot.scheduled.store(true, std::memory_order_release);  // as in schedule_many's phase 2
    if (trace_ != nullptr) [[unlikely]] {
      dispatch_traced(b, here, platform::tick());
    } else {
      scheduler_->dispatch(b, here);
    }
    return;
  }
  // Successors may link behind this request once every behaviour ahead of
  // it is queued on all of its cowns: then none of them can be overtaken
  // elsewhere (the deadlock two-phase locking prevents). This behaviour is
  // queued once exchanged; `prev` is when it says so, and it says so only
  // once the same holds for every request ahead of it. Release, as in
  // schedule_many's phase 2.
  platform::spin_until([&] { return prev->scheduled.load(std::memory_order_acquire); });
  slot.scheduled.store(true, std::memory_order_release);
  // Last: once linked, the holder may hand the cown on, and the behaviour
  // run and be deleted. Release: the holder reads `next` (acquire).
  prev->next.store(&slot, std::memory_order_release);
}

// Two-phase locking over several cowns (or none).
void Runtime::schedule_many(Behaviour* b, WorkerContext* here) {
  const std::uint32_t n = b->count_;
  // One count per cown, plus one held until every request is queued, so the
  // behaviour cannot be dispatched while this thread still links it.
  // Relaxed: the exchanges below publish it, and runtime_, (release) before
  // any other thread can reach this behaviour.
  b->countdown_.store(n + 1, std::memory_order_relaxed);

  // Phase 1: queue a request on every cown, in id order.
  std::uint32_t acquired = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    Slot& slot = b->slots_[i];
    // acq_rel: release publishes this slot's fields to the next requester;
    // acquire (when the queue was empty) sees the last holder's writes to
    // the cown, which it released when it emptied the queue.
    Slot* prev = slot.cown->last_.exchange(&slot, std::memory_order_acq_rel);
    if (prev == nullptr) {
      slot.cown->retain();  // the queue's reference
      ++acquired;           // nobody held or waited for the cown: it is ours now
    } else if (forsaken_request(prev)) {
      ++acquired;  // the holder will never let go: as good as free
    } else {
      link_behind(prev, slot);
    }
  }

  // Phase 2: let successors link behind our requests.
  for (std::uint32_t i = 0; i < n; ++i) {
    b->slots_[i].scheduled.store(true, std::memory_order_release);
  }

  // Drop the extra count and the cowns acquired at once. acq_rel: whoever
  // reaches zero dispatches and must see every hand-off before it.
  if (b->countdown_.fetch_sub(acquired + 1, std::memory_order_acq_rel) == acquired + 1) {
    if (trace_ != nullptr) [[unlikely]] {
      dispatch_traced(b, here, platform::tick());
    } else {
      scheduler_->dispatch(b, here);
    }
  }
}

void Runtime::dispatch_traced(Behaviour* b, WorkerContext* here, std::uint64_t tick) {
  const std::uint32_t id = here != nullptr ? trace_->dispatched(*here->trace_, tick) : trace_->dispatched_outside(tick);
  b->countdown_.store(id, std::memory_order_relaxed);  // free now: see Behaviour::trace_id
  scheduler_->dispatch(b, here);
}

// Hands every cown of a finished behaviour to the request behind it.
// Inlined into the worker loop, as is run_behaviour: per behaviour, a call
// costs a good part of what the work itself does. When tracing, `tick` is
// when the body ended: the successors became runnable from then on (unless
// one had yet to link, which this waits for).
template <bool traced>
BOC_ALWAYS_INLINE void Runtime::release(Behaviour& b, WorkerContext* from, std::uint64_t tick) {
  for (std::uint32_t i = 0; i < b.count_; ++i) {
    Slot& slot = b.slots_[i];
    Slot* next = slot.next.load(std::memory_order_acquire);
    if (next == nullptr) {
      Slot* expected = &slot;
      // Release: publishes the body's writes to the cown to whoever takes it
      // next from an empty queue (its exchange acquires).
      if (slot.cown->last_.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel,
                                                   std::memory_order_relaxed)) {
        slot.cown->release();  // the queue's reference: the cown is free, and may go
        continue;
      }
      // A successor exchanged itself in but has not linked yet; it will.
      platform::spin_until([&] {
        next = slot.next.load(std::memory_order_acquire);
        return next != nullptr;
      });
      if constexpr (traced) tick = platform::tick();  // it became runnable only now
    }
    Behaviour* successor = next->behaviour;
    // A successor on one cown waits for this one only. Otherwise, acq_rel:
    // releases this body's writes to the successor's dispatcher.
    if (successor->count_ == 1 || successor->countdown_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Dispatched from the releasing worker (producer locality), but by the
      // runtime that scheduled the successor: two runtimes may share a cown,
      // and to another runtime this worker is an outside thread.
      Runtime& owner = *successor->runtime_;
      if (&owner == this) [[likely]] {
        if constexpr (traced) {
          dispatch_traced(successor, from, tick);
        } else {
          scheduler_->dispatch(successor, from);
        }
      } else if (owner.trace_ != nullptr) {
        owner.dispatch_traced(successor, nullptr, platform::tick());
      } else {
        owner.scheduler_->dispatch(successor, nullptr);
      }
    }
  }
}

// Not instrumented by AddressSanitizer, which would add a check of its own
// before the rethrow below, on a stack the forced unwind left marked.
BOC_NO_SANITIZE_ADDRESS_ELSE_INLINE void Runtime::run_body(Behaviour* b) {
  try {
    b->run();
#if defined(__GLIBCXX__)
  } catch (const abi::__forced_unwind&) {
    // The thread is being cancelled or exited (pthread_exit, which CPython
    // uses on a thread that wants its lock after finalisation began): the
    // unwinding must go on, or the C library aborts the process.
    platform::forget_stack_poison();
    throw;
#endif
  } catch (...) {
    std::lock_guard<std::mutex> guard(errors_mutex_);
    errors_.push_back(std::current_exception());
  }
}

template <bool traced>
BOC_ALWAYS_INLINE void Runtime::run_behaviour(Behaviour* b, WorkerContext& w) {
  w.running_body_ = true;
  run_body(b);
  w.running_body_ = false;
  std::uint64_t ended = 0;
  if constexpr (traced) {
    ended = platform::tick();
    w.trace_->record(TraceRecord::end, ended, b->trace_id());
  }
  release<traced>(*b, &w, ended);
  delete b;
  w.stats_.behaviours_run.add();
  w.after_behaviour();
  terminator_.remove(w.credits_);
}

Runtime::SourcesSeen Runtime::sources_of(const WorkerContext& w) const {
  SourcesSeen seen;
  for (const CounterInfo* c : sources_) {
    seen.cells.push_back(&c->cell(*scheduler_, w.index()));
    seen.values.push_back(seen.cells.back()->load(std::memory_order_relaxed));
  }
  return seen;
}

std::int32_t Runtime::found_at(SourcesSeen& seen) noexcept {
  for (std::size_t i = 0; i < seen.cells.size(); ++i) {
    // Relaxed: this worker's own counters, which it wrote itself.
    const std::uint64_t now = seen.cells[i]->load(std::memory_order_relaxed);
    if (now != seen.values[i]) {
      seen.values[i] = now;
      return static_cast<std::int32_t>(i);
    }
  }
  return -1;
}

// Compiled twice: without tracing, the loop holds no trace code at all.
template <bool traced>
void Runtime::worker_loop(WorkerContext& w) {
  WorkerContext::current_ = &w;
  // Relaxed: a count for reports, read after the workers started.
  if (settings_.pin && platform::pin_current_thread(w.index())) pinned_.fetch_add(1, std::memory_order_relaxed);
  w.started_ns_.store(platform::now_ns(), std::memory_order_relaxed);
  SourcesSeen sources_seen;
  if constexpr (traced) sources_seen = sources_of(w);
  for (;;) {
    Behaviour* b = scheduler_->next(w, false);
    if (b == nullptr) {
      terminator_.flush(w.credits_);  // about to wait: quiescence may hinge on our credits
      w.suspend_resources();
      const std::int64_t t0 = platform::now_ns();
      w.idle_since_ns_.store(t0, std::memory_order_relaxed);
      b = scheduler_->next(w, true);
      w.idle_since_ns_.store(0, std::memory_order_relaxed);
      w.stats_.idle_ns.add(static_cast<std::uint64_t>(platform::now_ns() - t0));
      if (b == nullptr) break;
    }
    if constexpr (traced) {
      // The first cown rides on the start record, any others follow it.
      const std::uint64_t tick = platform::tick();
      const std::uint32_t n = b->count_, id = b->trace_id();
      w.trace_->record(TraceRecord::start, tick, id, n > 0 ? b->slots_[0].cown->id() : 0, found_at(sources_seen),
                       n > 0);
      for (std::uint32_t i = 1; i < n; ++i) w.trace_->record(TraceRecord::cown, tick, id, b->slots_[i].cown->id());
    }
    run_behaviour<traced>(b, w);
  }
  w.retire_resources();
  w.stopped_ns_.store(platform::now_ns(), std::memory_order_relaxed);
  WorkerContext::current_ = nullptr;
}

std::vector<WorkerReport> Runtime::stats() const {
  std::vector<WorkerReport> out;
  const std::int64_t now = platform::now_ns();
  for (const auto& w : workers_) {
    WorkerReport r;
    r.worker = w->index();
    r.behaviours_run = w->stats().behaviours_run.get();
    r.parks = w->stats().parks.get();
    std::uint64_t idle = w->stats().idle_ns.get();
    const std::int64_t idle_since = w->idle_since_ns_.load(std::memory_order_relaxed);
    if (idle_since != 0 && now > idle_since) idle += static_cast<std::uint64_t>(now - idle_since);
    r.idle_ns = idle;
    const std::int64_t started = w->started_ns_.load(std::memory_order_relaxed);
    std::int64_t stopped = w->stopped_ns_.load(std::memory_order_relaxed);
    if (stopped == 0) stopped = now;
    const std::int64_t lifetime = started == 0 ? 0 : stopped - started;
    r.busy_ns = lifetime > static_cast<std::int64_t>(idle) ? lifetime - idle : 0;
    for (const CounterInfo& c : info_.counters) r.counters.push_back(c.read(*scheduler_, w->index()));
    out.push_back(std::move(r));
  }
  return out;
}

TraceLog Runtime::trace() const {
  if (!trace_) throw std::logic_error("this runtime keeps no trace: make it with RuntimeSettings::trace_events > 0");
  if (running_) throw std::logic_error("a runtime's trace is read once stop() has returned");
  return trace_->events();
}

std::vector<std::exception_ptr> Runtime::take_errors() {
  std::lock_guard<std::mutex> guard(errors_mutex_);
  return std::exchange(errors_, {});
}

}  // namespace boc
