// A behaviour: a body to run once it holds every cown of its set.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <type_traits>

#include "boc/cown.h"
#include "boc/queue_node.h"
#include "boc/recycler.h"

namespace boc {

class Behaviour;
class Runtime;

// One request of a behaviour on one cown: a node of that cown's MCS-style
// queue of waiting behaviours.
struct Slot {
  Cown* cown = nullptr;
  Behaviour* behaviour = nullptr;
  // The request queued right behind this one on the same cown.
  std::atomic<Slot*> next{nullptr};
  // Set once the owning behaviour has queued on all of its cowns; a
  // successor must not link behind this slot before then (two-phase locking).
  std::atomic<bool> scheduled{false};
};

class Behaviour : public QueueNode {
 public:
  // The set is sorted by id and duplicates are dropped (the same cown twice
  // is acquired once). The behaviour borrows its cowns: whoever makes it
  // keeps them alive until Runtime::schedule() has returned; from then on
  // each cown's queue keeps it alive while any request waits on it (see
  // Runtime::schedule), so a chain of behaviours on one cown touches no
  // reference count.
  explicit Behaviour(std::span<Cown* const> cowns) : slots_(reinterpret_cast<Slot*>(inline_slots_)) {
    if (cowns.size() == 1) {  // the common case, inline and without the sort
      new (slots_) Slot{cowns[0], this};
      count_ = 1;
    } else {
      take_set(cowns);
    }
  }
  Behaviour(const Behaviour&) = delete;
  Behaviour& operator=(const Behaviour&) = delete;
  virtual ~Behaviour() {
    if (slots_ != reinterpret_cast<Slot*>(inline_slots_)) recycler::deallocate(slots_, count_ * sizeof(Slot));
  }

  // A behaviour is allocated on the thread that schedules it and freed on
  // the worker that runs it, often another one, a steady one-way flow in
  // fan-out shapes: the recycler moves such blocks between threads a
  // magazine at a time instead of contending on malloc per object (see
  // recycler.h). The destructor is virtual, so delete passes the size of
  // the most derived type. Over-aligned subclasses use the global aligned
  // forms instead.
  static void* operator new(std::size_t bytes) { return recycler::allocate(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { recycler::deallocate(p, bytes); }
  static void* operator new(std::size_t bytes, std::align_val_t align) { return ::operator new(bytes, align); }
  static void operator delete(void* p, std::size_t bytes, std::align_val_t align) noexcept {
    ::operator delete(p, bytes, align);
  }

  // The body. Called once, on a worker, while the behaviour holds its cowns.
  // A body that throws has its exception recorded by the runtime.
  virtual void run() = 0;

  std::size_t cown_count() const noexcept { return count_; }
  // Its id in the runtime's trace, once dispatched (see trace.h); only
  // when the runtime keeps a trace.
  std::uint32_t trace_id() const noexcept { return countdown_.load(std::memory_order_relaxed); }
  Cown* cown(std::size_t i) const noexcept { return slots_[i].cown; }
  bool holds(const Cown* c) const noexcept;

 private:
  friend class Runtime;

  // Two inline slots keep the common behaviours (one or two cowns, a few
  // fields) within 128 bytes, a size class of the recycler; a backlog of
  // behaviours waiting on a busy cown is then that much smaller.
  static constexpr std::size_t inline_slots = 2;
  static_assert(std::is_trivially_destructible_v<Slot>, "slots are not destroyed one by one");

  // Sorts `cowns`, drops duplicates and makes a slot for each.
  void take_set(std::span<Cown* const> cowns);

  // Cowns not yet handed to this behaviour, plus one while it is still being
  // queued; the thread that brings it to zero dispatches the behaviour. Not
  // used for a behaviour on one cown: whoever hands it that cown dispatches
  // it. Once dispatched, free for the trace id (relaxed: the dispatch
  // publishes it to the worker that runs the behaviour).
  std::atomic<std::uint32_t> countdown_{0};
  std::uint32_t count_ = 0;  // cowns in the set
  // The runtime that scheduled this behaviour and so must run it, even when
  // a worker of another runtime hands it its last cown.
  Runtime* runtime_ = nullptr;
  // inline_slots_ for up to inline_slots cowns, else an array of its own.
  // Only the first count_ slots are constructed.
  Slot* slots_;
  alignas(Slot) unsigned char inline_slots_[inline_slots * sizeof(Slot)];
};

// A behaviour whose body is any C++ callable; handy for tests and tools.
template <typename Body>
class FunctionBehaviour final : public Behaviour {
 public:
  FunctionBehaviour(std::span<Cown* const> cowns, Body body)
      : Behaviour(cowns), body_(std::move(body)) {}
  void run() override { body_(); }

 private:
  Body body_;
};

template <typename Body>
Behaviour* make_behaviour(std::span<Cown* const> cowns, Body body) {
  return new FunctionBehaviour<Body>(cowns, std::move(body));
}

}  // namespace boc
