// The MPMC queue on its own: order, segments, the front operations, and
// torture runs in which every node must come out exactly once (and, where
// only back-enqueues are used, in each producer's order).
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "boc/toolkit/mpmc_queue.h"
#include "test_support.h"

namespace boc {
namespace {

struct Item : QueueNode {
  std::uint32_t producer = 0;
  std::uint32_t seq = 0;
  std::atomic<int> seen{0};
};

Item* item(QueueNode* n) { return static_cast<Item*>(n); }

std::vector<std::unique_ptr<Item>> make_items(std::size_t n, std::uint32_t producer = 0) {
  std::vector<std::unique_ptr<Item>> items;
  for (std::size_t i = 0; i < n; ++i) {
    items.push_back(std::make_unique<Item>());
    items.back()->producer = producer;
    items.back()->seq = static_cast<std::uint32_t>(i);
  }
  return items;
}

// Links items[first..last) into a segment, in order.
MpmcQueue::Segment link(std::vector<std::unique_ptr<Item>>& items, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i + 1 < last; ++i) {
    items[i]->queue_next.store(items[i + 1].get(), std::memory_order_relaxed);
  }
  return {items[first].get(), &items[last - 1]->queue_next};
}

// Takes every node of `s` in order, waiting for links a producer is still
// writing (it will write them: it has already claimed its place).
template <typename Visit>
void drain_segment(MpmcQueue::Segment s, Visit visit) {
  while (!s.empty()) {
    if (QueueNode* n = s.take_one()) {
      visit(n);
    } else if (s.single()) {
      visit(s.start);
      return;
    } else {
      std::this_thread::yield();  // the producer may have been preempted
    }
  }
}

TEST(MpmcQueue, FifoOnOneThread) {
  MpmcQueue q;
  auto items = make_items(10);
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.dequeue(), nullptr);
  for (auto& i : items) q.enqueue(i.get());
  EXPECT_FALSE(q.is_empty());
  for (auto& i : items) EXPECT_EQ(q.dequeue(), i.get());
  EXPECT_EQ(q.dequeue(), nullptr);
  EXPECT_TRUE(q.is_empty());
  // A node can go round again.
  q.enqueue(items[3].get());
  EXPECT_EQ(q.dequeue(), items[3].get());
  EXPECT_TRUE(q.is_empty());
}

TEST(MpmcQueue, EnqueueFrontGoesFirst) {
  MpmcQueue q;
  auto items = make_items(4);
  q.enqueue_front(items[0].get());  // into an empty queue
  q.enqueue(items[1].get());
  q.enqueue_front(items[2].get());
  q.enqueue_front(items[3].get());
  for (std::size_t i : {3, 2, 0, 1}) EXPECT_EQ(q.dequeue(), items[i].get());
  EXPECT_TRUE(q.is_empty());
}

TEST(MpmcQueue, SegmentsInAndOut) {
  MpmcQueue q;
  auto items = make_items(8);
  q.enqueue(items[0].get());
  q.enqueue_segment(link(items, 1, 6));
  q.enqueue_segment(MpmcQueue::Segment::of(items[6].get()));
  q.enqueue(items[7].get());

  MpmcQueue::Segment all = q.dequeue_all();
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.dequeue(), nullptr);
  std::vector<QueueNode*> seen;
  while (QueueNode* n = all.take_one()) seen.push_back(n);
  ASSERT_TRUE(all.single());  // the last node stays, as its segment
  seen.push_back(all.start);
  ASSERT_EQ(seen.size(), items.size());
  for (std::size_t i = 0; i < items.size(); ++i) EXPECT_EQ(seen[i], items[i].get());

  // A segment moved whole keeps its order and can be split again.
  q.enqueue_segment(link(items, 0, 8));
  MpmcQueue other;
  other.enqueue_segment(q.dequeue_all());
  for (auto& i : items) EXPECT_EQ(other.dequeue(), i.get());
  EXPECT_TRUE(other.is_empty());
  EXPECT_TRUE(q.dequeue_all().empty());
}

TEST(MpmcQueue, AcquireFrontHoldsOffOtherConsumers) {
  MpmcQueue q;
  auto items = make_items(3);
  q.enqueue(items[0].get());
  q.enqueue(items[1].get());
  QueueNode* front = q.acquire_front();
  ASSERT_EQ(front, items[0].get());
  bool lost = false;
  EXPECT_EQ(q.dequeue(&lost), nullptr);
  EXPECT_TRUE(lost) << "a held front is a lost race, not an empty queue";
  lost = false;
  EXPECT_TRUE(q.dequeue_all(&lost).empty());
  EXPECT_TRUE(lost);
  // Producers are not held off.
  q.enqueue(items[2].get());
  EXPECT_EQ(q.dequeue(), nullptr);
  q.restore_front(front);
  for (std::size_t i : {0, 1, 2}) EXPECT_EQ(q.dequeue(), items[i].get());
  lost = false;
  EXPECT_EQ(q.dequeue(&lost), nullptr);
  EXPECT_FALSE(lost) << "an empty queue is not a lost race";
}

// Several producers (single nodes and pre-linked segments), several
// consumers (single dequeues and whole-queue dequeues): every node exactly
// once, and each consumer sees each producer's nodes in order.
TEST(MpmcQueue, TortureExactlyOnceAndFifoPerProducer) {
  constexpr std::size_t producers = 4, consumers = 4;
  const std::size_t per_producer = test::scaled(200000, 2);
  MpmcQueue q;
  std::vector<std::vector<std::unique_ptr<Item>>> items;
  for (std::size_t p = 0; p < producers; ++p) items.push_back(make_items(per_producer, static_cast<std::uint32_t>(p)));
  std::atomic<std::size_t> consumed{0}, producers_done{0};
  std::atomic<bool> order_ok{true};
  std::atomic<std::uint64_t> whole_takes{0};

  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      std::mt19937 rng(static_cast<unsigned>(p));
      auto& mine = items[p];
      for (std::size_t i = 0; i < per_producer;) {
        const std::size_t n = std::min<std::size_t>(1 + rng() % 8, per_producer - i);
        if (n == 1 || rng() % 2 == 0) {
          q.enqueue(mine[i].get());
          i += 1;
        } else {
          q.enqueue_segment(link(mine, i, i + n));
          i += n;
        }
      }
      producers_done++;
    });
  }
  for (std::size_t c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(100 + c));
      std::vector<std::int64_t> last(producers, -1);
      auto visit = [&](QueueNode* n) {
        Item* it = item(n);
        if (it->seen.fetch_add(1, std::memory_order_relaxed) != 0) order_ok = false;
        if (static_cast<std::int64_t>(it->seq) <= last[it->producer]) order_ok = false;
        last[it->producer] = it->seq;
        consumed.fetch_add(1, std::memory_order_relaxed);
      };
      const std::size_t total = producers * per_producer;
      while (consumed.load(std::memory_order_relaxed) < total) {
        if (rng() % 4 == 0) {
          MpmcQueue::Segment s = q.dequeue_all();
          if (!s.empty()) whole_takes++;
          drain_segment(s, visit);
        } else if (QueueNode* n = q.dequeue()) {
          visit(n);
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(order_ok.load());
  EXPECT_EQ(consumed.load(), producers * per_producer);
  for (auto& per : items) {
    for (auto& it : per) ASSERT_EQ(it->seen.load(), 1) << "producer " << it->producer << " seq " << it->seq;
  }
  EXPECT_TRUE(q.is_empty());
  EXPECT_GT(whole_takes.load(), 0u);
}

// Nodes circulate among several queues: taken one at a time or as whole
// segments (some still being linked), put back at the front, at the back,
// or split node by node. Afterwards every node is in exactly one queue.
TEST(MpmcQueue, TortureCirculationLosesAndDuplicatesNothing) {
  constexpr std::size_t queues = 3, threads_n = 4, nodes = 512;
  const std::size_t steps = test::scaled(200000, 2);
  MpmcQueue q[queues];
  auto items = make_items(nodes);
  for (std::size_t i = 0; i < nodes; ++i) q[i % queues].enqueue(items[i].get());

  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < threads_n; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (std::size_t k = 0; k < steps; ++k) {
        MpmcQueue& from = q[rng() % queues];
        MpmcQueue& to = q[rng() % queues];
        switch (rng() % 4) {
          case 0:
            if (QueueNode* n = from.dequeue()) to.enqueue(n);
            break;
          case 1:
            if (QueueNode* n = from.dequeue()) to.enqueue_front(n);
            break;
          case 2: {
            MpmcQueue::Segment s = from.dequeue_all();
            if (!s.empty()) to.enqueue_segment(s);  // whole, pending links and all
            break;
          }
          default: {
            MpmcQueue::Segment s = from.dequeue_all();
            while (QueueNode* n = s.take_one()) q[rng() % queues].enqueue(n);
            if (!s.empty()) to.enqueue_segment(s);
            break;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::size_t total = 0;
  for (auto& queue : q) {
    while (QueueNode* n = queue.dequeue()) {
      item(n)->seen++;
      ++total;
    }
    EXPECT_TRUE(queue.is_empty());
  }
  EXPECT_EQ(total, nodes);
  for (auto& it : items) EXPECT_EQ(it->seen.load(), 1) << "node " << it->seq;
}

// enqueue_front racing with producers and consumers: nothing lost or doubled.
TEST(MpmcQueue, TortureEnqueueFront) {
  constexpr std::size_t producers = 2, consumers = 2;
  const std::size_t per_producer = test::scaled(200000, 2);
  MpmcQueue q;
  std::vector<std::vector<std::unique_ptr<Item>>> items;
  for (std::size_t p = 0; p < producers; ++p) items.push_back(make_items(per_producer, static_cast<std::uint32_t>(p)));
  std::atomic<std::size_t> consumed{0};
  std::atomic<bool> ok{true};
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::size_t i = 0; i < per_producer; ++i) {
        if (i % 2 == p % 2) {
          q.enqueue_front(items[p][i].get());
        } else {
          q.enqueue(items[p][i].get());
        }
      }
    });
  }
  for (std::size_t c = 0; c < consumers; ++c) {
    threads.emplace_back([&] {
      const std::size_t total = producers * per_producer;
      while (consumed.load(std::memory_order_relaxed) < total) {
        if (QueueNode* n = q.dequeue()) {
          if (item(n)->seen.fetch_add(1) != 0) ok = false;
          consumed++;
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(ok.load());
  for (auto& per : items) {
    for (auto& it : per) ASSERT_EQ(it->seen.load(), 1);
  }
  EXPECT_TRUE(q.is_empty());
}

}  // namespace
}  // namespace boc
