// Unit: the protection rule and the sharing rule as pure functions — the kernel's
// effective_protection() formula case by case, a view built by hand (no tree), malformed
// views, and share_out's exact proportional split (also on random inputs).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "guestmm/memcg/memcg_protection.hpp"

namespace tide::gmm::memcg {
namespace {

TEST(MemcgProtectionRule, TheKernelFormula) {
  // Overcommitted: siblings protect 12 of the parent's 8 -> in proportion.
  EXPECT_EQ(effective_protection(6, 12, 6, 8, 12, false), 4u);
  // Within the parent's budget: capped by the node's own setting and usage.
  EXPECT_EQ(effective_protection(10, 20, 4, 8, 4, false), 4u);
  EXPECT_EQ(effective_protection(2, 8, 6, 8, 8, false), 2u);
  // Recursive: the unclaimed 4 of the parent shared by unprotected usage (6 of 16).
  EXPECT_EQ(effective_protection(10, 20, 4, 8, 4, true), 5u);
  EXPECT_EQ(effective_protection(10, 20, 0, 8, 4, true), 2u);
  // Rounded down, exact for page counts near the limit (128-bit products).
  EXPECT_EQ(effective_protection(kMaxPages, kMaxPages, kMaxPages, kMaxPages - 1, kMaxPages, false), kMaxPages - 1);
  EXPECT_EQ(effective_protection(0, 0, 5, 8, 0, true), 0u);
}

TEST(MemcgProtectionRule, MalformedViewsAreRefused) {
  EXPECT_FALSE(compute_protection({}, false));
  std::vector<ProtectionInput> bad{{MemcgId(0), 3, 0, 0, 0, false}};
  EXPECT_FALSE(compute_protection(bad, false));
  std::vector<ProtectionInput> order{{MemcgId(0), kNoParent, 0, 0, 0, false}, {MemcgId(1), 1, 0, 0, 0, true}};
  EXPECT_FALSE(compute_protection(order, false));
  std::vector<EffectiveProtection> fewer(1);
  std::vector<ProtectionInput> fine{{MemcgId(0), kNoParent, 0, 0, 0, false}, {MemcgId(1), 0, 0, 0, 0, true}};
  EXPECT_FALSE(plan_reclaim(fine, fewer, 1));
}

// root -> P (group, low 8) -> X (usage 6, low 6), Y (usage 6, low 6), built by hand.
TEST(MemcgProtectionRule, AHandBuiltView) {
  std::vector<ProtectionInput> v{
      {MemcgId(0), kNoParent, 12, 0, 0, false},
      {MemcgId(1), 0, 12, 0, 8, false},
      {MemcgId(2), 1, 6, 2, 6, true},
      {MemcgId(3), 1, 6, 0, 6, true},
  };
  auto p = compute_protection(v, false);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 4u);
  EXPECT_EQ((*p)[0].elow, 0u);  // the reclaim root
  EXPECT_EQ((*p)[1].elow, 8u);
  EXPECT_EQ((*p)[2].elow, 4u);
  EXPECT_EQ((*p)[3].elow, 4u);
  EXPECT_EQ((*p)[2].emin, 0u);  // P has no min to share out
  auto plan = plan_reclaim(v, *p, 6);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->shares.size(), 2u);
  EXPECT_EQ(plan->shares[0].leaf, MemcgId(2));
  // 2 + 2 above low, then the last 2 pages from their low, one each.
  EXPECT_EQ(plan->shares[0].pages, 3u);
  EXPECT_EQ(plan->shares[1].pages, 3u);
  EXPECT_EQ(plan->shares[0].from_low, 1u);
  EXPECT_EQ(plan->shares[1].from_low, 1u);
  EXPECT_EQ(plan->from_low, 2u);
  EXPECT_EQ(plan->unmet, 0u);
}

TEST(MemcgShareOut, ExactProportionalDeterministic) {
  EXPECT_EQ(share_out(std::vector<uint64_t>{30, 10}, 20), (std::vector<uint64_t>{15, 5}));
  EXPECT_EQ(share_out(std::vector<uint64_t>{3, 3, 3}, 2), (std::vector<uint64_t>{1, 1, 0}));  // ties: earlier
  EXPECT_EQ(share_out(std::vector<uint64_t>{1, 2}, 2), (std::vector<uint64_t>{1, 1}));  // 0.67 + 1.33: largest part
  EXPECT_EQ(share_out(std::vector<uint64_t>{0, 5}, 3), (std::vector<uint64_t>{0, 3}));
  EXPECT_EQ(share_out(std::vector<uint64_t>{4, 5}, 100), (std::vector<uint64_t>{4, 5}));  // everything, no more
  EXPECT_EQ(share_out(std::vector<uint64_t>{4, 5}, 0), (std::vector<uint64_t>{0, 0}));
  EXPECT_TRUE(share_out(std::vector<uint64_t>{}, 5).empty());
  auto big = share_out(std::vector<uint64_t>{kMaxPages, kMaxPages, 1}, kMaxPages);
  EXPECT_EQ(big[0] + big[1] + big[2], kMaxPages);
  EXPECT_LE(big[2], 1u);
}

TEST(MemcgShareOut, SumsToTheGoalAndRespectsRoomOnRandomInputs) {
  uint64_t seed = 12345;
  auto next = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint64_t> room(1 + next() % 8);
    uint64_t total = 0;
    for (auto& r : room) total += r = next() % 50;
    const uint64_t goal = next() % 200;
    auto take = share_out(room, goal);
    uint64_t sum = 0;
    for (size_t i = 0; i < room.size(); ++i) {
      ASSERT_LE(take[i], room[i]);
      // Within one page of the exact proportional share.
      if (total > goal) {
        const double exact = static_cast<double>(goal) * static_cast<double>(room[i]) / static_cast<double>(total);
        ASSERT_LT(std::abs(static_cast<double>(take[i]) - exact), 1.0);
      }
      sum += take[i];
    }
    ASSERT_EQ(sum, std::min(goal, total));
  }
}

}  // namespace
}  // namespace tide::gmm::memcg
