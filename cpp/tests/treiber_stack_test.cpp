// The Treiber stack of the strategy toolkit: order, whole-chain takes, and
// under contention every node taken exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "boc/toolkit/treiber_stack.h"
#include "test_support.h"

namespace boc {
namespace {

struct Node : QueueNode {
  std::size_t id = 0;
  std::atomic<int> taken{0};
};

std::vector<std::size_t> ids(QueueNode* chain) {
  std::vector<std::size_t> out;
  for (; chain != nullptr; chain = chain->queue_next.load()) out.push_back(static_cast<Node*>(chain)->id);
  return out;
}

TEST(TreiberStack, NewestFirst) {
  Node n[3];
  TreiberStack s;
  EXPECT_TRUE(s.empty());
  for (std::size_t i = 0; i < 3; ++i) {
    n[i].id = i;
    s.push(&n[i]);
  }
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(ids(s.take_all()), (std::vector<std::size_t>{2, 1, 0}));
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.take_all(), nullptr);
}

TEST(TreiberStack, OwnerPopsOneAndPublishesAChain) {
  Node n[3];
  for (std::size_t i = 0; i < 3; ++i) n[i].id = i;
  n[0].queue_next = &n[1];
  n[1].queue_next = &n[2];
  n[2].queue_next = nullptr;
  TreiberStack s;
  s.publish_owned(&n[0]);
  EXPECT_EQ(static_cast<Node*>(s.pop_owned())->id, 0u);
  EXPECT_EQ(static_cast<Node*>(s.pop_owned())->id, 1u);
  EXPECT_EQ(static_cast<Node*>(s.pop_owned())->id, 2u);
  EXPECT_EQ(s.pop_owned(), nullptr);
}

// Pushers and whole-chain takers at once: every node comes out once.
TEST(TreiberStack, ConcurrentPushAndTakeAllLoseNothing) {
  const std::size_t per = test::scaled(20000, 4);
  constexpr std::size_t pushers = 3, takers = 2;
  auto nodes = std::make_unique<Node[]>(per * pushers);
  TreiberStack s;
  std::atomic<std::size_t> seen{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < takers; ++t) {
    threads.emplace_back([&] {
      while (!done.load() || !s.empty()) {
        for (QueueNode* c = s.take_all(); c != nullptr;) {
          QueueNode* next = c->queue_next.load(std::memory_order_relaxed);
          static_cast<Node*>(c)->taken++;
          seen++;
          c = next;
        }
      }
    });
  }
  std::vector<std::thread> producers;
  for (std::size_t t = 0; t < pushers; ++t) {
    producers.emplace_back([&, t] {
      for (std::size_t i = 0; i < per; ++i) s.push(&nodes[t * per + i]);
    });
  }
  for (auto& p : producers) p.join();
  done = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.load(), per * pushers);
  for (std::size_t i = 0; i < per * pushers; ++i) ASSERT_EQ(nodes[i].taken.load(), 1) << i;
}

// The owner pops one at a time while thieves take the whole stack: every
// node goes to exactly one of them.
TEST(TreiberStack, OwnerPopsRaceThievesWithoutLoss) {
  const std::size_t rounds = test::scaled(2000, 4);
  constexpr std::size_t chain_length = 32;
  auto nodes = std::make_unique<Node[]>(rounds * chain_length);
  TreiberStack s;
  std::atomic<std::size_t> seen{0};
  std::atomic<bool> done{false};
  std::thread thief([&] {
    while (!done.load()) {
      for (QueueNode* c = s.take_all(); c != nullptr;) {
        QueueNode* next = c->queue_next.load(std::memory_order_relaxed);
        static_cast<Node*>(c)->taken++;
        seen++;
        c = next;
      }
    }
  });
  for (std::size_t r = 0; r < rounds; ++r) {
    Node* first = &nodes[r * chain_length];
    for (std::size_t i = 0; i + 1 < chain_length; ++i) first[i].queue_next = &first[i + 1];
    first[chain_length - 1].queue_next = nullptr;
    // Wait until the thief or we emptied the stack: only then may the owner publish.
    while (!s.empty()) {
      if (QueueNode* n = s.pop_owned()) {
        static_cast<Node*>(n)->taken++;
        seen++;
      }
    }
    s.publish_owned(first);
    for (int k = 0; k < 8; ++k) {
      if (QueueNode* n = s.pop_owned()) {
        static_cast<Node*>(n)->taken++;
        seen++;
      }
    }
  }
  while (QueueNode* n = s.pop_owned()) {
    static_cast<Node*>(n)->taken++;
    seen++;
  }
  done = true;
  thief.join();
  for (QueueNode* c = s.take_all(); c != nullptr; c = c->queue_next.load()) {
    static_cast<Node*>(c)->taken++;
    seen++;
  }
  EXPECT_EQ(seen.load(), rounds * chain_length);
  for (std::size_t i = 0; i < rounds * chain_length; ++i) ASSERT_EQ(nodes[i].taken.load(), 1) << i;
}

}  // namespace
}  // namespace boc
