// The recycling allocator behind behaviours and cowns (boc/recycler.h):
// round trips per size class, alignment, magazines moving from a producer
// thread to a consumer thread, hand-back at thread exit, big sizes.
#include "boc/recycler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>
#include <vector>

#include "boc/behaviour.h"
#include "boc/cown.h"
#include "boc/native_bodies.h"
#include "test_support.h"

namespace boc {
namespace {

using recycler::class_count;
using recycler::granule;
using recycler::largest;
using recycler::magazine_blocks;

// Every request size worth trying for class c: its smallest and largest.
std::array<std::size_t, 2> sizes_of_class(std::size_t c) { return {c * granule + 1, (c + 1) * granule}; }

// Fills a block with a pattern derived from `tag`, and checks it.
void stamp(void* p, std::size_t bytes, std::uint64_t tag) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < bytes; ++i) b[i] = static_cast<unsigned char>(tag * 131 + i);
}
bool stamped(const void* p, std::size_t bytes, std::uint64_t tag) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < bytes; ++i) {
    if (b[i] != static_cast<unsigned char>(tag * 131 + i)) return false;
  }
  return true;
}

bool aligned(const void* p, std::size_t to) { return reinterpret_cast<std::uintptr_t>(p) % to == 0; }

TEST(Recycler, RoundTripEachClass) {
  if (recycler::bypass) GTEST_SKIP() << "AddressSanitizer build: every block goes to operator new";
  for (std::size_t c = 0; c < class_count; ++c) {
    for (std::size_t bytes : sizes_of_class(c)) {
      // More than a thread keeps, so that magazines go to the depot and come back.
      constexpr std::size_t n = 5 * magazine_blocks + 7;
      std::vector<void*> blocks;
      for (std::size_t i = 0; i < n; ++i) {
        blocks.push_back(recycler::allocate(bytes));
        stamp(blocks.back(), bytes, i);
      }
      EXPECT_EQ(std::set<void*>(blocks.begin(), blocks.end()).size(), n) << "a block handed out twice";
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_TRUE(stamped(blocks[i], bytes, i)) << "blocks overlap, class " << c;
      }
      // Empty this thread's cache of blocks not ours (left from earlier
      // work), so that what it holds after the frees below is ours alone.
      std::vector<void*> held;
      while (recycler::cached_blocks(bytes) != 0) held.push_back(recycler::allocate(bytes));
      const std::size_t depot_before = recycler::depot_blocks(bytes);
      for (void* p : blocks) recycler::deallocate(p, bytes);
      const std::size_t cached = recycler::cached_blocks(bytes);
      EXPECT_GT(cached, 0u);
      EXPECT_LE(cached, recycler::local_magazines * magazine_blocks);

      // The thread's cache serves first: the blocks freed last.
      std::vector<void*> again;
      for (std::size_t i = 0; i < n; ++i) again.push_back(recycler::allocate(bytes));
      std::vector<void*> last_freed(blocks.end() - static_cast<std::ptrdiff_t>(cached), blocks.end());
      std::vector<void*> first_again(again.begin(), again.begin() + static_cast<std::ptrdiff_t>(cached));
      std::sort(last_freed.begin(), last_freed.end());
      std::sort(first_again.begin(), first_again.end());
      EXPECT_EQ(last_freed, first_again) << "class " << c << ", " << bytes << " bytes";
      // Then the full magazines this thread gave the depot, on top of its
      // stack: all of them come back unless the depot was at its bound.
      if (depot_before + (n - cached) <= recycler::depot_magazines * magazine_blocks) {
        std::sort(blocks.begin(), blocks.end());
        std::sort(again.begin(), again.end());
        EXPECT_EQ(blocks, again) << "class " << c << ", " << bytes << " bytes";
      }
      for (void* p : again) recycler::deallocate(p, bytes);
      for (void* p : held) recycler::deallocate(p, bytes);
    }
  }
}

TEST(Recycler, SizesOfOneClassShareBlocks) {
  if (recycler::bypass) GTEST_SKIP() << "AddressSanitizer build: every block goes to operator new";
  void* p = recycler::allocate(65);
  recycler::deallocate(p, 65);
  void* q = recycler::allocate(128);  // same class: the block just freed
  EXPECT_EQ(p, q);
  recycler::deallocate(q, 128);
}

TEST(Recycler, Alignment) {
  for (std::size_t bytes = 1; bytes <= largest + granule; bytes += 7) {
    std::vector<void*> blocks;
    for (int i = 0; i < 70; ++i) {
      blocks.push_back(recycler::allocate(bytes));
      EXPECT_TRUE(aligned(blocks.back(), alignof(std::max_align_t))) << bytes << " bytes";
      EXPECT_TRUE(aligned(blocks.back(), __STDCPP_DEFAULT_NEW_ALIGNMENT__)) << bytes << " bytes";
    }
    for (void* p : blocks) recycler::deallocate(p, bytes);
  }
}

TEST(Recycler, BigSizesFallThrough) {
  if (recycler::bypass) GTEST_SKIP() << "AddressSanitizer build: every block goes to operator new";
  std::vector<std::size_t> depot_before;
  for (std::size_t c = 0; c < class_count; ++c) depot_before.push_back(recycler::depot_blocks(c * granule + 1));
  std::size_t cached_before = 0;
  for (std::size_t c = 0; c < class_count; ++c) cached_before += recycler::cached_blocks(c * granule + 1);
  for (std::size_t bytes : {largest + 1, largest + granule, std::size_t{4096}, std::size_t{1} << 20}) {
    std::vector<void*> blocks;
    for (int i = 0; i < 3 * static_cast<int>(magazine_blocks); ++i) {
      blocks.push_back(recycler::allocate(bytes));
      stamp(blocks.back(), std::min<std::size_t>(bytes, 4096), static_cast<std::uint64_t>(i));
      EXPECT_TRUE(aligned(blocks.back(), alignof(std::max_align_t)));
    }
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      EXPECT_TRUE(stamped(blocks[i], std::min<std::size_t>(bytes, 4096), i));
      recycler::deallocate(blocks[i], bytes);
    }
    EXPECT_EQ(recycler::depot_blocks(bytes), 0u);
    EXPECT_EQ(recycler::cached_blocks(bytes), 0u);
  }
  // Nothing of it entered the recycler's classes.
  std::size_t cached_after = 0;
  for (std::size_t c = 0; c < class_count; ++c) {
    EXPECT_EQ(recycler::depot_blocks(c * granule + 1), depot_before[c]);
    cached_after += recycler::cached_blocks(c * granule + 1);
  }
  EXPECT_EQ(cached_after, cached_before);
}

// A block handed from one thread to another, with what it should contain.
struct Parcel {
  void* block;
  std::size_t bytes;
  std::uint64_t tag;
};

// A producer allocates and stamps blocks of every class and passes them
// through a queue to a consumer, which checks and frees them: one-way flow,
// the shape the recycler exists for. Every tag must arrive exactly once, and
// no block may be handed out while still live (its stamp would break).
TEST(Recycler, ProducerToConsumer) {
  const std::size_t n = test::scaled(200'000, 4);
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<Parcel> queue;
  bool done = false;
  std::unordered_set<void*> live;  // blocks handed out and not yet freed; guarded by mutex
  std::vector<unsigned char> seen(n, 0);
  std::size_t broken = 0, reused_live = 0;

  std::thread producer([&] {
    std::vector<Parcel> batch;
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::size_t bytes = 1 + (i * 2654435761u) % (largest + granule);  // includes big sizes
      void* p = recycler::allocate(bytes);
      stamp(p, bytes, i);
      batch.push_back({p, bytes, i});
      if (batch.size() == 37 || i + 1 == n) {
        std::lock_guard<std::mutex> guard(mutex);
        for (const Parcel& parcel : batch) {
          if (!live.insert(parcel.block).second) ++reused_live;
          queue.push_back(parcel);
        }
        batch.clear();
        ready.notify_one();
      }
    }
    std::lock_guard<std::mutex> guard(mutex);
    done = true;
    ready.notify_one();
  });
  std::thread consumer([&] {
    for (;;) {
      std::deque<Parcel> got;
      {
        std::unique_lock<std::mutex> lock(mutex);
        ready.wait(lock, [&] { return !queue.empty() || done; });
        if (queue.empty()) return;
        got.swap(queue);
      }
      for (const Parcel& parcel : got) {
        if (!stamped(parcel.block, parcel.bytes, parcel.tag)) ++broken;
        ++seen[parcel.tag];
      }
      {
        // Out of `live` before the free: once freed the producer may get it again.
        std::lock_guard<std::mutex> guard(mutex);
        for (const Parcel& parcel : got) live.erase(parcel.block);
      }
      for (const Parcel& parcel : got) recycler::deallocate(parcel.block, parcel.bytes);
    }
  });
  producer.join();
  consumer.join();

  EXPECT_EQ(broken, 0u) << "a block was overwritten while live";
  EXPECT_EQ(reused_live, 0u) << "a live block was handed out again";
  EXPECT_TRUE(live.empty());
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<std::ptrdiff_t>(n)) << "a block lost or doubled";
}

// Both threads allocate and free, and blocks go both ways.
TEST(Recycler, CrossTrafficBothWays) {
  const std::size_t rounds = test::scaled(20'000, 4);
  std::mutex mutex;
  std::vector<Parcel> to_a, to_b;
  std::size_t broken = 0;
  auto side = [&](std::vector<Parcel>& mine, std::vector<Parcel>& theirs, std::uint64_t salt) {
    for (std::uint64_t r = 0; r < rounds; ++r) {
      std::vector<Parcel> got;
      const std::size_t bytes = 1 + (r * 7919 + salt) % largest;
      Parcel sent{recycler::allocate(bytes), bytes, r ^ salt};
      stamp(sent.block, sent.bytes, sent.tag);
      {
        std::lock_guard<std::mutex> guard(mutex);
        theirs.push_back(sent);
        got.swap(mine);
      }
      for (const Parcel& p : got) {
        if (!stamped(p.block, p.bytes, p.tag)) {
          std::lock_guard<std::mutex> guard(mutex);
          ++broken;
        }
        recycler::deallocate(p.block, p.bytes);
      }
    }
  };
  std::thread a([&] { side(to_a, to_b, 1); });
  std::thread b([&] { side(to_b, to_a, 2); });
  a.join();
  b.join();
  for (auto* left : {&to_a, &to_b}) {
    for (const Parcel& p : *left) {
      EXPECT_TRUE(stamped(p.block, p.bytes, p.tag));
      recycler::deallocate(p.block, p.bytes);
    }
  }
  EXPECT_EQ(broken, 0u);
}

// A thread that frees blocks and exits hands them to the depot, partial
// magazines included; a fresh thread then gets them back. Uses a class no
// behaviour or cown of the other tests falls in, so that only this binary's
// recycler tests touch its depot.
TEST(Recycler, ThreadExitHandsBlocksBack) {
  if (recycler::bypass) GTEST_SKIP() << "AddressSanitizer build: every block goes to operator new";
  constexpr std::size_t bytes = 7 * granule + 10;      // class 7 (449..512)
  constexpr std::size_t n = 3 * magazine_blocks + 11;  // full magazines and a partial one
  recycler::trim();  // room in the depot, whatever earlier tests left there
  const std::size_t depot_before = recycler::depot_blocks(bytes);
  std::vector<void*> blocks;
  std::size_t cached_at_exit = 0;
  std::thread owner([&] {
    for (std::size_t i = 0; i < n; ++i) blocks.push_back(recycler::allocate(bytes));
    for (void* p : blocks) recycler::deallocate(p, bytes);
    cached_at_exit = recycler::cached_blocks(bytes);
  });
  owner.join();
  EXPECT_GT(cached_at_exit, 0u);
  EXPECT_LE(cached_at_exit, recycler::local_magazines * magazine_blocks);
  // Whatever the owner took from the depot it gave back, with the rest.
  const std::size_t depot_after = recycler::depot_blocks(bytes);
  EXPECT_GE(depot_after, n);
  EXPECT_LE(depot_after, depot_before + n);

  std::vector<void*> again;
  std::thread taker([&] {
    for (std::size_t i = 0; i < depot_after; ++i) again.push_back(recycler::allocate(bytes));
    for (void* p : again) recycler::deallocate(p, bytes);
  });
  taker.join();  // and it hands them back in turn
  for (void* p : blocks) EXPECT_NE(std::find(again.begin(), again.end(), p), again.end());
  EXPECT_EQ(recycler::depot_blocks(bytes), depot_after);
}

// A thread that only frees (never allocates) must still hand its cache back
// when it exits: its first free arms the thread's hand-back.
TEST(Recycler, FreeOnlyThreadHandsBack) {
  if (recycler::bypass) GTEST_SKIP() << "AddressSanitizer build: every block goes to operator new";
  constexpr std::size_t bytes = 6 * granule + 1;  // class 6 (385..448)
  constexpr std::size_t n = magazine_blocks / 2;  // stays in the freeing thread's cache
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(recycler::allocate(bytes));
  recycler::trim();  // room in the depot, whatever earlier tests left there
  const std::size_t depot_before = recycler::depot_blocks(bytes);
  std::size_t cached_at_exit = 0;
  std::thread freer([&] {
    for (void* p : blocks) recycler::deallocate(p, bytes);
    cached_at_exit = recycler::cached_blocks(bytes);
  });
  freer.join();
  EXPECT_EQ(cached_at_exit, n);
  EXPECT_EQ(recycler::depot_blocks(bytes), depot_before + n);
}

// The depot keeps a bounded number of magazines; the rest goes back to
// ::operator delete (LeakSanitizer would report any block dropped instead).
TEST(Recycler, DepotIsBounded) {
  if (recycler::bypass) GTEST_SKIP() << "AddressSanitizer build: every block goes to operator new";
  constexpr std::size_t bytes = 5 * granule + 1;  // class 5 (321..384)
  const std::size_t n = (recycler::depot_magazines + 10) * magazine_blocks;
  recycler::trim();
  std::vector<void*> blocks;
  std::thread owner([&] {
    for (std::size_t i = 0; i < n; ++i) blocks.push_back(recycler::allocate(bytes));
  });
  owner.join();
  std::thread freer([&] {
    for (void* p : blocks) recycler::deallocate(p, bytes);
  });
  freer.join();
  EXPECT_LE(recycler::depot_blocks(bytes), recycler::depot_magazines * magazine_blocks + magazine_blocks);
  EXPECT_GE(recycler::depot_blocks(bytes), recycler::depot_magazines * magazine_blocks);

  recycler::trim();
  EXPECT_EQ(recycler::depot_blocks(bytes), 0u);
}

// Behaviours and cowns allocate through the recycler: a freed one's block is
// the next one's.
TEST(Recycler, BehavioursAndCownsUseIt) {
  if (recycler::bypass) GTEST_SKIP() << "AddressSanitizer build: every block goes to operator new";
  CownRef c = CownRef::make();
  Cown* cp = c.get();
  Behaviour* b = new SpinBehaviour(std::span<Cown* const>(&cp, 1), 0);
  delete b;
  Behaviour* b2 = new SpinBehaviour(std::span<Cown* const>(&cp, 1), 0);
  EXPECT_EQ(static_cast<void*>(b2), static_cast<void*>(b));
  EXPECT_TRUE(aligned(b2, alignof(std::max_align_t)));
  delete b2;

  void* last = nullptr;
  {
    CownRef d = CownRef::make();
    EXPECT_TRUE(aligned(d.get(), alignof(std::max_align_t)));
    last = d.get();
  }
  CownRef e = CownRef::make();
  EXPECT_EQ(static_cast<void*>(e.get()), last);
}

// Containers over recycler::Allocator: a vector's storage is a block of the
// class its capacity needs, so one freed on another thread is a block the
// depot hands back; storage above the largest class falls through.
TEST(Recycler, VectorsUseIt) {
  if (recycler::bypass) GTEST_SKIP() << "AddressSanitizer build: every block goes to operator new";
  recycler::trim();  // an empty depot, so that the block comes back within the bound below
  recycler::Vector<int> v;
  v.reserve(3);
  const void* storage = v.data();
  v.assign({1, 2, 3});
  std::thread([w = std::move(v)]() mutable {
    EXPECT_EQ(w, (recycler::Vector<int>{1, 2, 3}));
    recycler::Vector<int>().swap(w);  // freed here
  }).join();  // the consumer's exit hands its cache to the depot
  std::vector<const void*> seen;
  bool found = false;
  for (std::size_t i = 0; i < recycler::local_magazines * magazine_blocks + magazine_blocks && !found; ++i) {
    seen.push_back(recycler::allocate(sizeof(int) * 3));
    found = seen.back() == storage;
  }
  EXPECT_TRUE(found) << "the block freed on the other thread did not come back";
  for (const void* p : seen) recycler::deallocate(const_cast<void*>(p), sizeof(int) * 3);

  recycler::Vector<char> big(largest + 1);
  EXPECT_EQ(recycler::cached_blocks(largest + 1), 0u);
}

// Behaviours bigger than the largest class, and over-aligned ones, bypass it.
TEST(Recycler, BigAndOverAlignedBehaviours) {
  CownRef c = CownRef::make();
  Cown* cp = c.get();
  std::array<unsigned char, 1024> payload{};
  payload[1023] = 7;
  Behaviour* big = make_behaviour(std::span<Cown* const>(&cp, 1), [payload] { (void)payload; });
  delete big;

  struct alignas(128) Wide {
    unsigned char bytes[128];
  };
  Behaviour* wide = make_behaviour(std::span<Cown* const>(&cp, 1), [w = Wide{}] { (void)w; });
  EXPECT_TRUE(aligned(wide, 128));
  delete wide;
}

// Many behaviours through a runtime on every strategy: allocated on one
// worker, freed on another.
class RecyclerRuntime : public ::testing::TestWithParam<std::string> {};

TEST_P(RecyclerRuntime, FanoutRunsAndFreesEverything) {
  Runtime rt(GetParam(), 2);
  rt.start();
  CownRef state = CownRef::make();
  rt.schedule(new FanoutBehaviour(state.get(), test::scaled(200, 4), 64, 0));
  ASSERT_TRUE(rt.quiesce(test::hang_limit()));
  rt.stop();
  std::uint64_t run = 0;
  for (const WorkerReport& w : rt.stats()) run += w.behaviours_run;
  EXPECT_EQ(run, test::scaled(200, 4) * 65);
}

INSTANTIATE_TEST_SUITE_P(Strategies, RecyclerRuntime, ::testing::ValuesIn(test::scheduler_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace boc
