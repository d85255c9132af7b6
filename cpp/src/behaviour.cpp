#include "boc/behaviour.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace boc {

namespace {
// Sets up to this many cowns are sorted by insertion on the stack and
// searched from the start; larger ones, which that would make quadratic,
// are sorted through a copy and searched by halves.
constexpr std::size_t insertion_sort_limit = 16;
}  // namespace

void Behaviour::take_set(std::span<Cown* const> cowns) {
  if (cowns.size() == 2 && cowns[0] != cowns[1]) {  // a pair, the next most common set
    const bool in_order = cowns[0]->id() < cowns[1]->id();
    new (&slots_[0]) Slot{cowns[in_order ? 0 : 1], this};
    new (&slots_[1]) Slot{cowns[in_order ? 1 : 0], this};
    count_ = 2;
    return;
  }
  // Sort the pointers (on the stack for small sets), then make the slots.
  Cown* small[insertion_sort_limit];
  std::vector<Cown*> large;
  Cown** sorted = small;
  if (cowns.size() <= insertion_sort_limit) {
    // Insertion sort by id, skipping duplicates.
    for (Cown* c : cowns) {
      std::size_t i = count_;
      while (i > 0 && sorted[i - 1]->id() > c->id()) --i;
      if (i > 0 && sorted[i - 1] == c) continue;
      for (std::size_t j = count_; j > i; --j) sorted[j] = sorted[j - 1];
      sorted[i] = c;
      ++count_;
    }
  } else {
    large.assign(cowns.begin(), cowns.end());
    std::sort(large.begin(), large.end(), [](const Cown* a, const Cown* b) { return a->id() < b->id(); });
    large.erase(std::unique(large.begin(), large.end()), large.end());
    sorted = large.data();
    if (large.size() > UINT32_MAX) throw std::length_error("a behaviour takes at most 2^32 - 1 cowns");
    count_ = static_cast<std::uint32_t>(large.size());
  }
  if (count_ > inline_slots) slots_ = static_cast<Slot*>(recycler::allocate(count_ * sizeof(Slot)));
  for (std::size_t i = 0; i < count_; ++i) new (&slots_[i]) Slot{sorted[i], this};
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
