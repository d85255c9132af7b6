#include "boc/runtime.h"

#include <stdexcept>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

#include "boc/platform.h"

namespace boc {

void set_current_worker(WorkerContext* w) noexcept;  // worker.cpp

namespace {
std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Runtime::Runtime(const std::string& scheduler, std::size_t workers, const Options& options)
    : info_(Registry::instance().get(scheduler)),
      options_(Registry::resolve_options(info_, options)) {
  if (workers == 0) throw std::invalid_argument("a runtime needs at least one worker");
  scheduler_ = info_.create(options_);
  scheduler_->attach(workers);
  for (std::size_t i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<WorkerContext>(*this, i));
  }
}

Runtime::~Runtime() { stop(); }

void Runtime::start() {
  if (running_ || stopped_) throw std::logic_error("a runtime starts once");
  running_ = true;
  for (auto& w : workers_) {
    threads_.emplace_back([this, ctx = w.get()] { worker_loop(*ctx); });
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

WorkerContext* Runtime::local_worker() const noexcept {
  WorkerContext* w = WorkerContext::current();
  return (w != nullptr && &w->runtime() == this) ? w : nullptr;
}

// Two-phase scheduling over the cowns' request queues.
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
  const std::size_t n = b->count_;
  b->runtime_ = this;
  // One count per cown, plus one held until every request is queued, so the
  // behaviour cannot be dispatched while this thread still links it.
  // Relaxed: the exchanges below publish it, and runtime_, (release) before
  // any other thread can reach this behaviour.
  b->countdown_.store(n + 1, std::memory_order_relaxed);

  // Phase 1: queue a request on every cown, in id order.
  std::size_t acquired = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Slot& slot = b->slots_[i];
    // acq_rel: release publishes this slot's fields to the next requester;
    // acquire (when the queue was empty) sees the last holder's writes to
    // the cown, which it released when it emptied the queue.
    Slot* prev = slot.cown->last_.exchange(&slot, std::memory_order_acq_rel);
    if (prev == nullptr || forsaken_request(prev)) {
      ++acquired;  // nobody held or waited for the cown (that ever will): it is ours now
      continue;
    }
    // Link behind the predecessor only once its behaviour has queued on all
    // of its cowns. Otherwise two behaviours could each get ahead of the
    // other on different cowns and wait for each other for ever.
    platform::spin_until([&] { return prev->scheduled.load(std::memory_order_acquire); });
    // Release: the predecessor reads `next` (acquire) when it lets go of the
    // cown and then touches this slot's behaviour.
    prev->next.store(&slot, std::memory_order_release);
  }

  // Phase 2: let successors link behind our requests.
  for (std::size_t i = 0; i < n; ++i) {
    b->slots_[i].scheduled.store(true, std::memory_order_release);
  }

  // Drop the extra count and the cowns acquired at once. acq_rel: whoever
  // reaches zero dispatches and must see every hand-off before it.
  if (b->countdown_.fetch_sub(acquired + 1, std::memory_order_acq_rel) == acquired + 1) {
    scheduler_->dispatch(b, here);
  }
}

bool Runtime::forsaken_request(const Slot* prev) const noexcept {
  // prev's fields and its behaviour's runtime_ were written before the
  // exchange that published prev, which our exchange acquired. Only another
  // runtime can be forsaken while this one schedules.
  const Runtime* owner = prev->behaviour->runtime_;
  return owner != this && owner->forsaken_.load(std::memory_order_relaxed);
}

// Hands every cown of a finished behaviour to the request behind it.
void Runtime::release(Behaviour& b, WorkerContext* from) {
  for (std::size_t i = 0; i < b.count_; ++i) {
    Slot& slot = b.slots_[i];
    Slot* next = slot.next.load(std::memory_order_acquire);
    if (next == nullptr) {
      Slot* expected = &slot;
      // Release: publishes the body's writes to the cown to whoever takes it
      // next from an empty queue (its exchange acquires).
      if (slot.cown->last_.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel,
                                                   std::memory_order_relaxed)) {
        continue;  // no one waiting: the cown is free
      }
      // A successor exchanged itself in but has not linked yet; it will.
      platform::spin_until([&] {
        next = slot.next.load(std::memory_order_acquire);
        return next != nullptr;
      });
    }
    Behaviour* successor = next->behaviour;
    // acq_rel: releases this body's writes to the successor's dispatcher.
    if (successor->countdown_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Dispatched from the releasing worker (producer locality), but by the
      // runtime that scheduled the successor: two runtimes may share a cown,
      // and to another runtime this worker is an outside thread.
      Runtime& owner = *successor->runtime_;
      owner.scheduler_->dispatch(successor, &owner == this ? from : nullptr);
    }
  }
}

// Not instrumented by AddressSanitizer, which would add a check of its own
// before the rethrow below, on a stack the forced unwind left marked.
BOC_NO_SANITIZE_ADDRESS void Runtime::run_body(Behaviour* b) {
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

void Runtime::run_behaviour(Behaviour* b, WorkerContext& w) {
  w.running_body_ = true;
  run_body(b);
  w.running_body_ = false;
  release(*b, &w);
  delete b;
  w.stats_.behaviours_run.add();
  w.after_behaviour();
  terminator_.remove(w.credits_);
}

void Runtime::worker_loop(WorkerContext& w) {
  set_current_worker(&w);
  w.started_ns_.store(now_ns(), std::memory_order_relaxed);
  for (;;) {
    Behaviour* b = scheduler_->next(w, false);
    if (b == nullptr) {
      terminator_.flush(w.credits_);  // about to wait: quiescence may hinge on our credits
      w.suspend_resources();
      const std::int64_t t0 = now_ns();
      w.idle_since_ns_.store(t0, std::memory_order_relaxed);
      b = scheduler_->next(w, true);
      w.idle_since_ns_.store(0, std::memory_order_relaxed);
      w.stats_.idle_ns.add(static_cast<std::uint64_t>(now_ns() - t0));
      if (b == nullptr) break;
    }
    run_behaviour(b, w);
  }
  w.retire_resources();
  w.stopped_ns_.store(now_ns(), std::memory_order_relaxed);
  set_current_worker(nullptr);
}

std::vector<WorkerReport> Runtime::stats() const {
  std::vector<WorkerReport> out;
  const std::int64_t now = now_ns();
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

std::vector<std::exception_ptr> Runtime::take_errors() {
  std::lock_guard<std::mutex> guard(errors_mutex_);
  return std::exchange(errors_, {});
}

}  // namespace boc
