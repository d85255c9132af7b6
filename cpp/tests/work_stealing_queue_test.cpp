// The work-stealing queue: where its three cursors send nodes, what a steal
// takes and leaves, and an owner/thieves/producers run in which every node
// comes out exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "boc/toolkit/work_stealing_queue.h"
#include "test_support.h"

namespace boc {
namespace {

struct Item : QueueNode {
  std::size_t id = 0;
  bool rejected = false;  // the sieve throws it away (as the scheduler does tokens)
  std::atomic<int> seen{0};
};

std::vector<std::unique_ptr<Item>> make_items(std::size_t n) {
  std::vector<std::unique_ptr<Item>> items;
  for (std::size_t i = 0; i < n; ++i) {
    items.push_back(std::make_unique<Item>());
    items.back()->id = i;
  }
  return items;
}

std::size_t id(QueueNode* n) { return static_cast<Item*>(n)->id; }

std::vector<std::size_t> contents(MpmcQueue& q) {
  std::vector<std::size_t> ids;
  while (QueueNode* n = q.dequeue()) ids.push_back(id(n));
  return ids;
}

auto keep_all = [](QueueNode*) { return true; };

TEST(WorkStealingQueue, EnqueueCursorRotatesOverSubQueues) {
  WorkStealingQueue q(4);
  auto items = make_items(8);
  EXPECT_EQ(q.next_enqueue_index(), 1u);
  for (auto& i : items) q.enqueue(i.get());
  EXPECT_EQ(q.next_enqueue_index(), 1u);  // went round twice
  EXPECT_EQ(contents(q.sub_queue(1)), (std::vector<std::size_t>{0, 4}));
  EXPECT_EQ(contents(q.sub_queue(2)), (std::vector<std::size_t>{1, 5}));
  EXPECT_EQ(contents(q.sub_queue(3)), (std::vector<std::size_t>{2, 6}));
  EXPECT_EQ(contents(q.sub_queue(0)), (std::vector<std::size_t>{3, 7}));
  EXPECT_TRUE(q.is_empty());
}

TEST(WorkStealingQueue, DequeueCursorFollowsTheEnqueueCursor) {
  // With both cursors in step, one thread gets its nodes back in order.
  WorkStealingQueue q(4);
  auto items = make_items(11);
  for (auto& i : items) q.enqueue(i.get());
  std::size_t lost = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(q.next_dequeue_index(), (i + 1) % 4);
    QueueNode* n = q.dequeue(lost);
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(id(n), i);
  }
  EXPECT_EQ(q.dequeue(lost), nullptr);
  EXPECT_EQ(lost, 0u);
  // An empty sub-queue is skipped: the dequeue goes on to the next one.
  q.sub_queue(2).enqueue(items[0].get());
  EXPECT_EQ(q.dequeue(lost), items[0].get());
}

TEST(WorkStealingQueue, EnqueueFrontIsWhatTheNextDequeueFinds) {
  WorkStealingQueue q(4);
  auto items = make_items(6);
  for (std::size_t i = 0; i < 5; ++i) q.enqueue(items[i].get());
  std::size_t lost = 0;
  EXPECT_EQ(q.dequeue(lost), items[0].get());
  q.enqueue_front(items[5].get());
  EXPECT_EQ(q.dequeue(lost), items[5].get());
  EXPECT_EQ(q.dequeue(lost), items[1].get());
}

TEST(WorkStealingQueue, EnqueueSpreadDealsOneNodePerSubQueue) {
  WorkStealingQueue q(3);
  auto items = make_items(7);
  for (std::size_t i = 0; i + 1 < items.size(); ++i) {
    items[i]->queue_next.store(items[i + 1].get(), std::memory_order_relaxed);
  }
  q.enqueue_spread({items[0].get(), &items[6]->queue_next});
  EXPECT_EQ(contents(q.sub_queue(1)), (std::vector<std::size_t>{0, 3, 6}));
  EXPECT_EQ(contents(q.sub_queue(2)), (std::vector<std::size_t>{1, 4}));
  EXPECT_EQ(contents(q.sub_queue(0)), (std::vector<std::size_t>{2, 5}));
}

TEST(WorkStealingQueue, StealTakesOneSubQueueKeepsOneAndSpreadsTheRest) {
  WorkStealingQueue victim(4), thief(4);
  auto items = make_items(12);
  for (auto& i : items) victim.enqueue(i.get());  // sub-queue k+1 holds k, k+4, k+8
  EXPECT_EQ(thief.next_steal_index(), 0u);

  auto r = thief.steal(victim, keep_all);  // sub-queue 0: 3, 7, 11
  EXPECT_TRUE(r.attempted);
  EXPECT_FALSE(r.lost_race);
  ASSERT_NE(r.node, nullptr);
  EXPECT_EQ(id(r.node), 3u);
  EXPECT_EQ(r.moved, 2u);
  EXPECT_TRUE(victim.sub_queue(0).is_empty());
  EXPECT_EQ(thief.next_steal_index(), 1u);
  EXPECT_EQ(contents(thief.sub_queue(1)), (std::vector<std::size_t>{7}));
  EXPECT_EQ(contents(thief.sub_queue(2)), (std::vector<std::size_t>{11}));

  // The sieve drops nodes it disposes of; the first kept one is returned.
  items[0]->rejected = true;
  std::size_t dropped = 0;
  auto sieve = [&](QueueNode* n) {
    if (!static_cast<Item*>(n)->rejected) return true;
    ++dropped;
    return false;
  };
  r = thief.steal(victim, sieve);  // sub-queue 1: 0 (dropped), 4, 8
  ASSERT_NE(r.node, nullptr);
  EXPECT_EQ(id(r.node), 4u);
  EXPECT_EQ(dropped, 1u);
  EXPECT_EQ(r.moved, 1u);

  // An empty sub-queue at the cursor: the steal looks further along.
  EXPECT_EQ(contents(victim.sub_queue(2)), (std::vector<std::size_t>{1, 5, 9}));
  r = thief.steal(victim, keep_all);  // cursor 2 (now empty) -> 3: 2, 6, 10
  ASSERT_NE(r.node, nullptr);
  EXPECT_EQ(id(r.node), 2u);
  EXPECT_TRUE(victim.is_empty());

  // Nothing left: not even an attempt.
  r = thief.steal(victim, keep_all);
  EXPECT_FALSE(r.attempted);
  EXPECT_EQ(r.node, nullptr);

  // A sub-queue holding only rejected nodes: an attempt, no node.
  items[1]->rejected = true;
  victim.enqueue(items[1].get());
  r = thief.steal(victim, sieve);
  EXPECT_TRUE(r.attempted);
  EXPECT_EQ(r.node, nullptr);
  EXPECT_EQ(r.moved, 0u);
}

// One owner (dequeue, enqueue, enqueue_front), thieves that steal from it
// and from each other, and outside producers: every node exactly once.
TEST(WorkStealingQueue, TortureOwnerThievesProducers) {
  constexpr std::size_t thieves = 2, producers = 2;
  const std::size_t per_producer = test::scaled(200000, 2);
  const std::size_t total = producers * per_producer;
  auto items = make_items(total);
  std::vector<std::unique_ptr<WorkStealingQueue>> queues;  // [0] is the owner's
  for (std::size_t i = 0; i < 1 + thieves; ++i) queues.push_back(std::make_unique<WorkStealingQueue>(4));
  std::atomic<std::size_t> consumed{0};
  std::atomic<bool> ok{true};
  auto consume = [&](QueueNode* n) {
    if (static_cast<Item*>(n)->seen.fetch_add(1) != 0) ok = false;
    consumed++;
  };

  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::size_t i = 0; i < per_producer; ++i) queues[0]->enqueue(items[p * per_producer + i].get());
    });
  }
  // Each consumer owns queues[c]: dequeues from it, steals from the others.
  for (std::size_t c = 0; c < 1 + thieves; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c));
      WorkStealingQueue& mine = *queues[c];
      std::size_t lost = 0;
      while (consumed.load(std::memory_order_relaxed) < total) {
        if (QueueNode* n = mine.dequeue(lost)) {
          if (rng() % 8 == 0) {
            mine.enqueue_front(n);  // put back, take later
          } else {
            consume(n);
          }
          continue;
        }
        WorkStealingQueue& victim = *queues[rng() % queues.size()];
        if (&victim == &mine) continue;
        auto r = mine.steal(victim, keep_all);
        if (r.node != nullptr) consume(r.node);
        if (r.node == nullptr && !r.attempted) std::this_thread::yield();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(ok.load());
  EXPECT_EQ(consumed.load(), total);
  for (auto& it : items) ASSERT_EQ(it->seen.load(), 1) << "node " << it->id;
  for (auto& q : queues) EXPECT_TRUE(q->is_empty());
}

}  // namespace
}  // namespace boc
