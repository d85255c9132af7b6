// Behaviour bodies written in C++, for measuring the scheduler without an
// interpreter in the way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "boc/behaviour.h"

namespace boc {

class Runtime;

// Busy-waits for `ns` nanoseconds of steady-clock time (returns at once for 0).
void spin_for_slow(std::uint64_t ns) noexcept;
inline void spin_for(std::uint64_t ns) noexcept {
  if (ns != 0) spin_for_slow(ns);
}

// Spins for `ns`, nothing else: an empty body when `ns` is 0.
class SpinBehaviour final : public Behaviour {
 public:
  SpinBehaviour(std::span<Cown* const> cowns, std::uint64_t ns) : Behaviour(cowns), ns_(ns) {}
  void run() override { spin_for(ns_); }

 private:
  std::uint64_t ns_;
};

// Spins for `ns`, then schedules itself again on the same cowns until it has
// run `times` times in all: a chain that measures schedule-to-release cost.
class LoopBehaviour final : public Behaviour {
 public:
  LoopBehaviour(std::span<Cown* const> cowns, std::uint64_t times, std::uint64_t ns)
      : Behaviour(cowns), remaining_(times), ns_(ns) {}
  void run() override;

 private:
  std::uint64_t remaining_;
  std::uint64_t ns_;
};

// A producer that, on each of `steps` runs, schedules one SpinBehaviour on
// each of `children` fresh cowns, then schedules itself again on its own
// cown: the fan-out / fan-in shape.
class FanoutBehaviour final : public Behaviour {
 public:
  FanoutBehaviour(Cown* state, std::uint64_t steps, std::uint64_t children, std::uint64_t child_ns)
      : Behaviour(std::span<Cown* const>(&state, 1)),
        steps_(steps),
        children_(children),
        child_ns_(child_ns) {}
  void run() override;

 private:
  std::uint64_t steps_;
  std::uint64_t children_;
  std::uint64_t child_ns_;
};

}  // namespace boc
