// Unit: BuddyAllocator — split and merge, exhaustion, alloc_exact, pools whose size is not a
// power of two, and check_invariants() catching a corrupted frame table.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "guestmm/buddy.hpp"
#include "guestmm/frame_table.hpp"

namespace tide::gmm {
namespace {

#define ASSERT_AUDIT(b)                                      \
  do {                                                       \
    auto st_ = (b).check_invariants();                       \
    ASSERT_TRUE(st_) << st_.error().message();               \
  } while (0)

FrameTable make_table(uint64_t frames) {
  auto t = FrameTable::create(frames);
  EXPECT_TRUE(t);
  return std::move(*t);
}

uint64_t total_free_blocks(const BuddyAllocator& b) {
  uint64_t n = 0;
  for (unsigned k = 0; k <= BuddyAllocator::kMaxOrder; ++k) n += b.free_blocks(k);
  return n;
}

TEST(Buddy, FreshPoolIsOneMaximalBlockPerAlignedPiece) {
  FrameTable t = make_table(1024);
  BuddyAllocator b(t);
  ASSERT_AUDIT(b);
  EXPECT_EQ(b.free_frames(), 1024u);
  EXPECT_EQ(b.free_blocks(10), 1u);
  EXPECT_EQ(total_free_blocks(b), 1u);
  EXPECT_TRUE(b.is_free(Mfn(0)));
  EXPECT_TRUE(b.is_free(Mfn(1023)));
  EXPECT_FALSE(b.is_free(Mfn(1024)));
}

TEST(Buddy, SplitOnAllocAndMergeBackOnFree) {
  FrameTable t = make_table(1024);
  BuddyAllocator b(t);
  auto m = b.alloc(0);
  ASSERT_TRUE(m);
  ASSERT_AUDIT(b);
  EXPECT_EQ(m->value(), 0u);  // the lower half is kept at every split
  EXPECT_EQ(b.free_frames(), 1023u);
  // One block of every order 0..9 is left over by the splits.
  for (unsigned k = 0; k < 10; ++k) EXPECT_EQ(b.free_blocks(k), 1u) << "order " << k;
  EXPECT_EQ(b.free_blocks(10), 0u);
  EXPECT_TRUE(t[*m].has(kFrameAllocated));
  EXPECT_FALSE(b.is_free(*m));

  b.free(*m, 0);
  ASSERT_AUDIT(b);
  EXPECT_EQ(b.free_frames(), 1024u);
  EXPECT_EQ(b.free_blocks(10), 1u);
  EXPECT_EQ(total_free_blocks(b), 1u);
}

TEST(Buddy, AllocationsAreAlignedAndDisjoint) {
  FrameTable t = make_table(4096);
  BuddyAllocator b(t);
  std::mt19937_64 rng(7);
  std::vector<std::pair<Mfn, unsigned>> held;
  std::set<uint64_t> used;
  for (int step = 0; step < 400; ++step) {
    if (held.empty() || rng() % 3 != 0) {
      const unsigned order = static_cast<unsigned>(rng() % 6);
      auto m = b.alloc(order);
      if (!m) continue;
      EXPECT_EQ(m->value() % (uint64_t{1} << order), 0u);
      for (uint64_t i = 0; i < (uint64_t{1} << order); ++i) {
        EXPECT_TRUE(used.insert(m->value() + i).second) << "frame handed out twice";
        EXPECT_FALSE(b.is_free(*m + i));
      }
      held.emplace_back(*m, order);
    } else {
      const size_t k = rng() % held.size();
      auto [m, order] = held[k];
      held.erase(held.begin() + static_cast<ptrdiff_t>(k));
      for (uint64_t i = 0; i < (uint64_t{1} << order); ++i) used.erase(m.value() + i);
      b.free(m, order);
    }
    ASSERT_AUDIT(b);
    ASSERT_EQ(b.free_frames() + used.size(), 4096u);
  }
  for (auto [m, order] : held) b.free(m, order);
  ASSERT_AUDIT(b);
  EXPECT_EQ(b.free_blocks(12), 1u);
  EXPECT_EQ(total_free_blocks(b), 1u);
}

TEST(Buddy, ExhaustionThenEverythingComesBack) {
  FrameTable t = make_table(512);
  BuddyAllocator b(t);
  std::vector<Mfn> got;
  while (auto m = b.alloc(0)) {
    got.push_back(*m);
    ASSERT_AUDIT(b);
  }
  EXPECT_EQ(got.size(), 512u);
  EXPECT_EQ(b.free_frames(), 0u);
  EXPECT_EQ(total_free_blocks(b), 0u);
  EXPECT_FALSE(b.alloc(0));
  EXPECT_FALSE(b.alloc(9));
  std::mt19937_64 rng(3);
  std::shuffle(got.begin(), got.end(), rng);
  for (Mfn m : got) {
    b.free(m, 0);
    ASSERT_AUDIT(b);
  }
  EXPECT_EQ(b.free_blocks(9), 1u);
  EXPECT_EQ(total_free_blocks(b), 1u);
}

TEST(Buddy, NoBlockOfTheOrderLeft) {
  FrameTable t = make_table(1024);
  BuddyAllocator b(t);
  auto a = b.alloc(0);
  ASSERT_TRUE(a);
  // 1023 frames free but not one aligned block of 1024.
  EXPECT_FALSE(b.alloc(10));
  EXPECT_FALSE(b.alloc(BuddyAllocator::kMaxOrder + 1));
  auto big = b.alloc(9);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->value(), 512u);
  ASSERT_AUDIT(b);
}

TEST(Buddy, AllocExactInsideAFreeBlock) {
  FrameTable t = make_table(1024);
  BuddyAllocator b(t);
  ASSERT_TRUE(b.alloc_exact(Mfn(700), 0));
  ASSERT_AUDIT(b);
  EXPECT_FALSE(b.is_free(Mfn(700)));
  EXPECT_TRUE(b.is_free(Mfn(699)));
  EXPECT_TRUE(b.is_free(Mfn(701)));
  EXPECT_EQ(b.free_frames(), 1023u);
  EXPECT_TRUE(t.at(700).has(kFrameAllocated));

  ASSERT_TRUE(b.alloc_exact(Mfn(512), 6));
  ASSERT_AUDIT(b);
  EXPECT_EQ(b.free_frames(), 1023u - 64);
  for (uint64_t i = 512; i < 576; ++i) EXPECT_FALSE(b.is_free(Mfn(i)));

  b.free(Mfn(700), 0);
  b.free(Mfn(512), 6);
  ASSERT_AUDIT(b);
  EXPECT_EQ(b.free_blocks(10), 1u);
}

TEST(Buddy, AllocExactRefusesAllocatedMisalignedAndOutside) {
  FrameTable t = make_table(1024);
  BuddyAllocator b(t);
  ASSERT_TRUE(b.alloc_exact(Mfn(8), 0));
  EXPECT_FALSE(b.alloc_exact(Mfn(8), 0));  // already taken
  EXPECT_FALSE(b.alloc_exact(Mfn(8), 3));  // a block that contains a taken frame
  EXPECT_FALSE(b.alloc_exact(Mfn(0), 4));
  EXPECT_FALSE(b.alloc_exact(Mfn(12), 3));  // misaligned for order 3
  EXPECT_FALSE(b.alloc_exact(Mfn(1024), 0));  // outside
  EXPECT_FALSE(b.alloc_exact(Mfn(0), BuddyAllocator::kMaxOrder + 1));
  ASSERT_AUDIT(b);
  EXPECT_EQ(b.free_frames(), 1023u);
  // Its neighbours are still available.
  EXPECT_TRUE(b.alloc_exact(Mfn(9), 0));
  EXPECT_TRUE(b.alloc_exact(Mfn(16), 4));
  ASSERT_AUDIT(b);
}

TEST(Buddy, PoolSizeNotAPowerOfTwo) {
  for (uint64_t n : {1u, 3u, 5u, 7u, 100u, 1000u, 1536u, 4095u}) {
    SCOPED_TRACE(n);
    FrameTable t = make_table(n);
    BuddyAllocator b(t);
    ASSERT_AUDIT(b);
    EXPECT_EQ(b.free_frames(), n);
    EXPECT_EQ(total_free_blocks(b), static_cast<uint64_t>(__builtin_popcountll(n)));
    std::vector<Mfn> got;
    while (auto m = b.alloc(0)) got.push_back(*m);
    ASSERT_EQ(got.size(), n);
    for (Mfn m : got) EXPECT_LT(m.value(), n);
    ASSERT_AUDIT(b);
    // Free in an order that makes every merge attempt look past the end of the pool.
    std::reverse(got.begin(), got.end());
    for (Mfn m : got) b.free(m, 0);
    ASSERT_AUDIT(b);
    EXPECT_EQ(total_free_blocks(b), static_cast<uint64_t>(__builtin_popcountll(n)));
  }
}

TEST(Buddy, LargestOrderSpansOneGiB) {
  const uint64_t n = (uint64_t{1} << BuddyAllocator::kMaxOrder) + 512;
  FrameTable t = make_table(n);
  BuddyAllocator b(t);
  ASSERT_AUDIT(b);
  EXPECT_EQ(b.free_blocks(BuddyAllocator::kMaxOrder), 1u);
  EXPECT_EQ(b.free_blocks(9), 1u);
  auto m = b.alloc(BuddyAllocator::kMaxOrder);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->value(), 0u);
  b.free(*m, BuddyAllocator::kMaxOrder);
  ASSERT_AUDIT(b);
}

// The corruption tests build this state on 8 frames: frames 1 and 2 allocated; free lists
// order 0 = [0, 3], order 2 = [4].
class BuddyCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(b.alloc(0)->value(), 0u);
    ASSERT_EQ(b.alloc(0)->value(), 1u);
    ASSERT_EQ(b.alloc(0)->value(), 2u);
    b.free(Mfn(0), 0);  // its buddy 1 is allocated: stays order 0, pushed at the list head
    ASSERT_AUDIT(b);
    ASSERT_EQ(b.free_blocks(0), 2u);
    ASSERT_EQ(t.at(0).next, 3u);
  }
  void expect_broken(const char* what) {
    auto st = b.check_invariants();
    ASSERT_FALSE(st) << "the audit missed: " << what;
    EXPECT_NE(st.error().message().find(what), std::string::npos) << st.error().message();
  }
  FrameTable t = make_table(8);
  BuddyAllocator b{t};
};

TEST_F(BuddyCorruption, BrokenPrevLink) {
  t.at(3).prev = 2;
  expect_broken("bad prev link");
}

TEST_F(BuddyCorruption, NextLinkOutsideThePool) {
  t.at(3).next = 1000;
  expect_broken("outside the pool");
}

TEST_F(BuddyCorruption, ListLoop) {
  t.at(3).next = 0;
  auto st = b.check_invariants();
  EXPECT_FALSE(st);
}

TEST_F(BuddyCorruption, FreeFrameMarkedAllocated) {
  t.at(5).flags = kFrameAllocated;  // inside the free order-2 block at 4
  expect_broken("free frame 5 is allocated");
}

TEST_F(BuddyCorruption, FreeFrameOwned) {
  t.at(6).owner = 3;
  expect_broken("free frame 6");
}

TEST_F(BuddyCorruption, FreeHeadMarkedAllocated) {
  t.at(4).flags |= kFrameAllocated;
  expect_broken("not a free head");
}

TEST_F(BuddyCorruption, WrongCount) {
  t.at(0).next = kNilFrame;  // block 3 drops off its list: 1 listed, 2 counted
  expect_broken("1 blocks listed, 2 counted");
}

TEST_F(BuddyCorruption, WrongOrderAtAHead) {
  t.at(4).order = 1;
  expect_broken("not a free head of that order");
}

TEST_F(BuddyCorruption, OverlappingBlocks) {
  t.at(6).flags = kFrameHead;
  t.at(6).order = 1;
  expect_broken("overlap at frame 6");
}

TEST_F(BuddyCorruption, UnmergedBuddyPair) {
  // Move free block 3 to frame 1, the buddy of free block 0, keeping every count right.
  t.at(0).next = 1;
  t.at(1) = t.at(3);
  t.at(1).prev = 0;
  t.at(3) = Frame{0, 0, 0, kNilFrame, kNilFrame, kFrameAllocated, 0, 0};
  expect_broken("were not merged");
}

TEST_F(BuddyCorruption, RepairedTableAuditsClean) {
  const Frame saved = t.at(5);
  t.at(5).flags = kFrameAllocated;
  ASSERT_FALSE(b.check_invariants());
  t.at(5) = saved;
  ASSERT_AUDIT(b);
}

}  // namespace
}  // namespace tide::gmm
