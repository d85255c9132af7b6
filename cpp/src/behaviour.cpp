#include "boc/behaviour.h"

#include <algorithm>

namespace boc {

Behaviour::Behaviour(std::span<Cown* const> cowns) {
  slots_ = inline_slots_;
  if (cowns.size() > inline_slots) {
    heap_slots_ = std::make_unique<Slot[]>(cowns.size());
    slots_ = heap_slots_.get();
  }
  // The set is small: insertion sort by id, skipping duplicates.
  for (Cown* c : cowns) {
    std::size_t i = count_;
    while (i > 0 && slots_[i - 1].cown->id() > c->id()) --i;
    if (i > 0 && slots_[i - 1].cown == c) continue;
    for (std::size_t j = count_; j > i; --j) slots_[j].cown = slots_[j - 1].cown;
    slots_[i].cown = c;
    ++count_;
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
  for (std::size_t i = 0; i < count_; ++i) {
    if (slots_[i].cown == c) return true;
  }
  return false;
}

}  // namespace boc
