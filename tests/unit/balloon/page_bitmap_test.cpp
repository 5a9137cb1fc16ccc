// Unit: PageBitmap — set/clear/test answers, the running count, iteration order, bounds,
// and check_invariants() after every step of a seeded random sequence against std::set.
#include "balloon/page_bitmap.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace tide::balloon {
namespace {

TEST(PageBitmap, SetClearTestAndCount) {
  PageBitmap b(130);
  EXPECT_EQ(b.size(), 130u);
  EXPECT_EQ(b.count(), 0u);
  EXPECT_TRUE(b.set(0));
  EXPECT_TRUE(b.set(63));
  EXPECT_TRUE(b.set(64));
  EXPECT_TRUE(b.set(129));
  EXPECT_FALSE(b.set(64)) << "a second set reports no change";
  EXPECT_EQ(b.count(), 4u);
  EXPECT_TRUE(b.test(63));
  EXPECT_FALSE(b.test(62));
  EXPECT_TRUE(b.clear(63));
  EXPECT_FALSE(b.clear(63)) << "a second clear reports no change";
  EXPECT_FALSE(b.test(63));
  EXPECT_EQ(b.count(), 3u);
  EXPECT_TRUE(b.check_invariants());
}

TEST(PageBitmap, OutOfRangeIsRefusedAndReadsFalse) {
  PageBitmap b(10);
  EXPECT_FALSE(b.set(10));
  EXPECT_FALSE(b.set(UINT64_MAX));
  EXPECT_FALSE(b.test(10));
  EXPECT_FALSE(b.clear(10));
  EXPECT_EQ(b.count(), 0u);
  EXPECT_TRUE(b.check_invariants());
  PageBitmap empty;
  EXPECT_FALSE(empty.set(0));
  EXPECT_TRUE(empty.check_invariants());
}

TEST(PageBitmap, ForEachSetVisitsInIncreasingOrder) {
  PageBitmap b(300);
  for (uint64_t i : {299u, 0u, 65u, 64u, 128u, 1u}) b.set(i);
  std::vector<uint64_t> seen;
  b.for_each_set([&](uint64_t i) { seen.push_back(i); });
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 64, 65, 128, 299}));
  b.clear_all();
  EXPECT_EQ(b.count(), 0u);
  seen.clear();
  b.for_each_set([&](uint64_t i) { seen.push_back(i); });
  EXPECT_TRUE(seen.empty());
}

TEST(PageBitmap, RandomSequenceMatchesASet) {
  std::mt19937_64 rng(12345);
  PageBitmap b(1000);
  std::set<uint64_t> model;
  for (int step = 0; step < 20000; ++step) {
    uint64_t i = rng() % 1010;  // some out of range
    if (rng() % 2) {
      bool expect = i < 1000 && model.insert(i).second;
      ASSERT_EQ(b.set(i), expect) << "step " << step;
    } else {
      bool expect = model.erase(i) != 0;
      ASSERT_EQ(b.clear(i), expect) << "step " << step;
    }
    ASSERT_EQ(b.count(), model.size());
    ASSERT_TRUE(b.check_invariants());
  }
  std::vector<uint64_t> seen;
  b.for_each_set([&](uint64_t i) { seen.push_back(i); });
  EXPECT_EQ(seen, std::vector<uint64_t>(model.begin(), model.end()));
}

}  // namespace
}  // namespace tide::balloon
