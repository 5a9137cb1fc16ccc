// Unit: PoolAllocator (buddy + hot list) and FrameCache (a guest's batch-refilled stack of
// clean frames).
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "guestmm/frame_cache.hpp"
#include "guestmm/pool_allocator.hpp"

namespace tide::gmm {
namespace {

#define ASSERT_POOL_AUDIT(p)                                  \
  do {                                                        \
    auto l_ = (p).lock();                                     \
    auto st_ = (p).check_invariants_locked();                 \
    ASSERT_TRUE(st_) << st_.error().message();                \
  } while (0)

class PoolTest : public ::testing::Test {
 protected:
  static FrameTable make_table(uint64_t n) {
    auto t = FrameTable::create(n);
    EXPECT_TRUE(t);
    return std::move(*t);
  }
  FrameTable table = make_table(2048);
};

TEST_F(PoolTest, BlocksAndFrames) {
  PoolAllocator pool(table, 0);
  auto block = pool.alloc_block(9);
  ASSERT_TRUE(block);
  EXPECT_EQ(pool.free_frames(), 2048u - 512);
  std::vector<Mfn> frames(100);
  EXPECT_EQ(pool.alloc_frames(frames), 100u);
  EXPECT_EQ(pool.free_frames(), 2048u - 612);
  std::set<uint64_t> distinct;
  for (Mfn m : frames) {
    distinct.insert(m.value());
    EXPECT_TRUE(table[m].has(kFrameAllocated));
    EXPECT_FALSE(m >= *block && m < *block + 512);
  }
  EXPECT_EQ(distinct.size(), 100u);
  ASSERT_POOL_AUDIT(pool);
  pool.free_clean(frames);
  pool.free_clean_block(*block, 9);
  EXPECT_EQ(pool.free_frames(), 2048u);
  ASSERT_POOL_AUDIT(pool);
}

TEST_F(PoolTest, AllocFramesStopsWhenThePoolIsEmpty) {
  PoolAllocator pool(table, 0);
  std::vector<Mfn> all(3000);
  EXPECT_EQ(pool.alloc_frames(all), 2048u);
  EXPECT_EQ(pool.free_frames(), 0u);
  EXPECT_FALSE(pool.alloc_block(0));
  EXPECT_FALSE(pool.take_hot());
  ASSERT_POOL_AUDIT(pool);
  pool.free_clean(std::span<const Mfn>(all.data(), 2048));
  ASSERT_POOL_AUDIT(pool);
  EXPECT_EQ(pool.free_frames(), 2048u);
}

TEST_F(PoolTest, AllocExact) {
  PoolAllocator pool(table, 0);
  EXPECT_TRUE(pool.alloc_exact(Mfn(1024), 9));
  EXPECT_FALSE(pool.alloc_exact(Mfn(1024), 0));
  EXPECT_TRUE(pool.alloc_exact(Mfn(3), 0));
  ASSERT_POOL_AUDIT(pool);
  EXPECT_EQ(pool.free_frames(), 2048u - 513);
}

TEST_F(PoolTest, HotListKeepsAtMostItsLimit) {
  PoolAllocator pool(table, 4);
  std::vector<Mfn> frames(10);
  ASSERT_EQ(pool.alloc_frames(frames), 10u);
  for (Mfn m : frames) {
    table[m].owner = 7;  // as if a guest had them
    table[m].gfn = 99;
    table[m].map_count = 1;
  }
  EXPECT_EQ(pool.offer_hot(frames), 4u);  // a prefix
  EXPECT_EQ(pool.hot_frames(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const Frame& f = table[frames[i]];
    EXPECT_TRUE(f.has(kFrameHot));
    EXPECT_TRUE(f.has(kFrameResident));
    EXPECT_TRUE(f.has(kFrameAllocated));
    EXPECT_EQ(f.owner, 0u);
    EXPECT_EQ(f.map_count, 0u);
  }
  EXPECT_FALSE(table[frames[4]].has(kFrameHot));
  EXPECT_EQ(pool.offer_hot(std::span<const Mfn>(frames).subspan(4)), 0u);  // full
  ASSERT_POOL_AUDIT(pool);

  // Forced offers go past the limit (frames that could not be punched).
  EXPECT_EQ(pool.offer_hot(std::span<const Mfn>(frames).subspan(4), /*force=*/true), 6u);
  EXPECT_EQ(pool.hot_frames(), 10u);
  ASSERT_POOL_AUDIT(pool);
  {
    auto l = pool.lock();
    EXPECT_EQ(pool.hot_list_locked().size(), 10u);
  }

  // take_hot hands them back one at a time, most recent first, resident and unflagged.
  auto h = pool.take_hot();
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, frames[9]);
  EXPECT_TRUE(table[*h].has(kFrameResident));
  EXPECT_FALSE(table[*h].has(kFrameHot));
  EXPECT_EQ(pool.hot_frames(), 9u);
  // Still over the limit: a normal offer takes nothing.
  EXPECT_EQ(pool.offer_hot(std::span(&*h, 1)), 0u);
  ASSERT_POOL_AUDIT(pool);
  while (pool.hot_frames() > 3) ASSERT_TRUE(pool.take_hot());
  EXPECT_EQ(pool.offer_hot(std::span(&*h, 1)), 1u);
  ASSERT_POOL_AUDIT(pool);
}

TEST_F(PoolTest, NoHotListWhenTheLimitIsZero) {
  PoolAllocator pool(table, 0);
  std::vector<Mfn> frames(3);
  ASSERT_EQ(pool.alloc_frames(frames), 3u);
  EXPECT_EQ(pool.offer_hot(frames), 0u);
  EXPECT_EQ(pool.hot_frames(), 0u);
  pool.free_clean(frames);
  ASSERT_POOL_AUDIT(pool);
}

TEST_F(PoolTest, AuditCatchesBadHotMetadata) {
  PoolAllocator pool(table, 4);
  std::vector<Mfn> frames(2);
  ASSERT_EQ(pool.alloc_frames(frames), 2u);
  ASSERT_EQ(pool.offer_hot(frames), 2u);
  ASSERT_POOL_AUDIT(pool);
  table[frames[1]].owner = 2;
  auto l = pool.lock();
  EXPECT_FALSE(pool.check_invariants_locked());
  table[frames[1]].owner = 0;
  EXPECT_TRUE(pool.check_invariants_locked());
}

TEST_F(PoolTest, CacheRefillsInOneBatch) {
  PoolAllocator pool(table, 0);
  FrameCache cache(pool, table);
  auto m = cache.alloc();
  ASSERT_TRUE(m);
  // One trip to the pool took a whole batch.
  EXPECT_EQ(pool.free_frames(), 2048u - FrameCache::kBatch);
  EXPECT_EQ(cache.size(), FrameCache::kBatch - 1);
  EXPECT_EQ(table[*m].flags, kFrameAllocated);
  std::set<uint64_t> seen{m->value()};
  for (size_t i = 1; i < FrameCache::kBatch; ++i) {
    auto n = cache.alloc();
    ASSERT_TRUE(n);
    EXPECT_TRUE(seen.insert(n->value()).second);
    // Served from the cache: the pool is not touched.
    EXPECT_EQ(pool.free_frames(), 2048u - FrameCache::kBatch);
  }
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_TRUE(cache.alloc());
  EXPECT_EQ(pool.free_frames(), 2048u - 2 * FrameCache::kBatch);
  ASSERT_POOL_AUDIT(pool);
  cache.drain();
  EXPECT_EQ(pool.free_frames(), 2048u - FrameCache::kBatch - 1);
}

TEST_F(PoolTest, CacheDrainsABatchWhenFull) {
  PoolAllocator pool(table, 0);
  std::vector<Mfn> frames(FrameCache::kCapacity + 1);
  ASSERT_EQ(pool.alloc_frames(frames), frames.size());
  const uint64_t free0 = pool.free_frames();
  {
    FrameCache cache(pool, table);
    for (size_t i = 0; i < FrameCache::kCapacity; ++i) {
      cache.free(frames[i]);
      EXPECT_TRUE(table[frames[i]].has(kFrameCached));
      EXPECT_EQ(pool.free_frames(), free0);
    }
    EXPECT_EQ(cache.size(), FrameCache::kCapacity);
    size_t listed = 0;
    cache.for_each_locked([&](Mfn) { ++listed; });
    EXPECT_EQ(listed, FrameCache::kCapacity);
    // Full: the next free sends one batch back to the pool in one go.
    cache.free(frames.back());
    EXPECT_EQ(cache.size(), FrameCache::kCapacity - FrameCache::kBatch + 1);
    EXPECT_EQ(pool.free_frames(), free0 + FrameCache::kBatch);
    ASSERT_POOL_AUDIT(pool);
  }
  // The destructor drains the rest.
  EXPECT_EQ(pool.free_frames(), 2048u);
  ASSERT_POOL_AUDIT(pool);
}

TEST_F(PoolTest, CacheAllocFailsOnlyWhenThePoolIsEmpty) {
  PoolAllocator pool(table, 0);
  std::vector<Mfn> all(2048 - 5);
  ASSERT_EQ(pool.alloc_frames(all), all.size());
  FrameCache cache(pool, table);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(cache.alloc()) << i;  // a short batch is fine
  EXPECT_FALSE(cache.alloc());
  EXPECT_EQ(pool.free_frames(), 0u);
}

}  // namespace
}  // namespace tide::gmm
