// A behaviour: a body to run once it holds every cown of its set.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <span>

#include "boc/cown.h"
#include "boc/queue_node.h"

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
  // Takes a reference to every cown; the set is sorted by id and duplicates
  // are dropped (the same cown twice is acquired once).
  explicit Behaviour(std::span<Cown* const> cowns);
  Behaviour(const Behaviour&) = delete;
  Behaviour& operator=(const Behaviour&) = delete;
  virtual ~Behaviour();

  // The body. Called once, on a worker, while the behaviour holds its cowns.
  // A body that throws has its exception recorded by the runtime.
  virtual void run() = 0;

  std::size_t cown_count() const noexcept { return count_; }
  Cown* cown(std::size_t i) const noexcept { return slots_[i].cown; }
  bool holds(const Cown* c) const noexcept;

 private:
  friend class Runtime;

  static constexpr std::size_t inline_slots = 3;

  // Cowns not yet handed to this behaviour, plus one while it is still being
  // queued; the thread that brings it to zero dispatches the behaviour.
  std::atomic<std::size_t> countdown_{0};
  // The runtime that scheduled this behaviour and so must run it, even when
  // a worker of another runtime hands it its last cown.
  Runtime* runtime_ = nullptr;
  std::size_t count_ = 0;
  Slot* slots_;
  std::unique_ptr<Slot[]> heap_slots_;
  Slot inline_slots_[inline_slots];
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
