#include "boc/behaviour.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace boc {

namespace {
// Sets up to this many cowns are sorted in place by insertion and searched
// from the start; larger ones, which that would make quadratic, are sorted
// through a copy and searched by halves.
constexpr std::size_t insertion_sort_limit = 16;
}  // namespace

Behaviour::Behaviour(std::span<Cown* const> cowns) {
  slots_ = inline_slots_;
  if (cowns.size() > inline_slots) {
    heap_slots_ = std::make_unique<Slot[]>(cowns.size());
    slots_ = heap_slots_.get();
  }
  if (cowns.size() <= insertion_sort_limit) {
    // Insertion sort by id, skipping duplicates.
    for (Cown* c : cowns) {
      std::size_t i = count_;
      while (i > 0 && slots_[i - 1].cown->id() > c->id()) --i;
      if (i > 0 && slots_[i - 1].cown == c) continue;
      for (std::size_t j = count_; j > i; --j) slots_[j].cown = slots_[j - 1].cown;
      slots_[i].cown = c;
      ++count_;
    }
  } else {
    std::vector<Cown*> sorted(cowns.begin(), cowns.end());
    std::sort(sorted.begin(), sorted.end(), [](const Cown* a, const Cown* b) { return a->id() < b->id(); });
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (Cown* c : sorted) slots_[count_++].cown = c;
  }
  for (std::size_t i = 0; i < count_; ++i) {
    slots_[i].behaviour = this;
    slots_[i].cown->retain();
  }
}

Behaviour::~Behaviour() {
  for (std::size_t i = 0; i < count_; ++i) slots_[i].cown->release();
}

bool Behaviour::holds(const Cown* c) const noexcept {
  if (count_ <= insertion_sort_limit) {
    for (std::size_t i = 0; i < count_; ++i) {
      if (slots_[i].cown == c) return true;
    }
    return false;
  }
  // Binary search: the slots are sorted by id, without duplicates.
  const std::uint64_t id = c->id();
  std::size_t lo = 0, hi = count_;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    const std::uint64_t here = slots_[mid].cown->id();
    if (here == id) return slots_[mid].cown == c;
    if (here < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}

}  // namespace boc
