// Unit: effective memory.min/low by the kernel's rule (mm/page_counter.c) — the example in
// the kernel's own documentation of the rule, a parent with low 8 and its children's
// usage/low combinations, recursive protection — and the pressure plan that shares a
// reclaim goal above low first, then low (counting low events), never min.
#include <gtest/gtest.h>

#include <map>

#include "guestmm/memcg/memcg_protection.hpp"
#include "memcg_test_util.hpp"

namespace tide::gmm::memcg {
namespace {

using test::must;
using test::snap;

std::map<MemcgId, EffectiveProtection> by_id(const std::vector<EffectiveProtection>& v) {
  std::map<MemcgId, EffectiveProtection> m;
  for (const auto& e : v) m[e.id] = e;
  return m;
}

std::map<MemcgId, ReclaimShare> by_id(const std::vector<ReclaimShare>& v) {
  std::map<MemcgId, ReclaimShare> m;
  for (const auto& s : v) m[s.leaf] = s;
  return m;
}

void charge(MemcgTree& t, MemcgId g, uint64_t pages) {
  auto r = t.try_charge(g, pages);
  ASSERT_TRUE(r && r->charged);
}

// The example in the kernel's comment on effective protection (memcontrol.c), in pages:
//   A/memory.low = 2000, A/memory.current = 6000
//   B: low 3000, current 2000;  C: low 1000, current 2000
//   D: low 0,    current 2000;  E: low 10000, current 0
// The children claim 3000 of A's 2000, so B and C share A's in proportion to their
// protected usage (2000 : 1000); D has none, E uses none.
TEST(MemcgProtection, TheKernelDocumentationExample) {
  MemcgTree t;
  MemcgId a = must(t.create_group(kRootId, "A"));
  MemcgId b = must(t.create_guest(a, "B"));
  MemcgId c = must(t.create_guest(a, "C"));
  MemcgId d = must(t.create_guest(a, "D"));
  MemcgId e = must(t.create_guest(a, "E"));
  ASSERT_OK(t.set_limit(a, Limit::low, 2000));
  ASSERT_OK(t.set_limit(b, Limit::low, 3000));
  ASSERT_OK(t.set_limit(c, Limit::low, 1000));
  ASSERT_OK(t.set_limit(e, Limit::low, 10000));
  charge(t, b, 2000);
  charge(t, c, 2000);
  charge(t, d, 2000);
  auto p = by_id(t.effective_protection().value());
  EXPECT_EQ(p[kRootId].elow, 0u);
  EXPECT_EQ(p[a].elow, 2000u);
  EXPECT_EQ(p[b].elow, 1333u);  // 2000 * 2000 / 3000
  EXPECT_EQ(p[c].elow, 666u);   // 1000 * 2000 / 3000
  EXPECT_EQ(p[d].elow, 0u);
  EXPECT_EQ(p[e].elow, 0u);
  EXPECT_EQ(p[b].emin, 0u);
}

// A parent P with low 8 (and min 8) and two guests X, Y, in the combinations the kernel's
// rule distinguishes.
class MemcgParentLow8 : public ::testing::Test {
 protected:
  explicit MemcgParentLow8(bool recursive = false) : tree(MemcgTreeOptions{.recursive_protection = recursive}) {
    p = must(tree.create_group(kRootId, "P"));
    x = must(tree.create_guest(p, "X"));
    y = must(tree.create_guest(p, "Y"));
    EXPECT_TRUE(tree.set_limit(p, Limit::low, 8));
    EXPECT_TRUE(tree.set_limit(p, Limit::min, 8));
  }
  void setup(uint64_t x_usage, uint64_t x_low, uint64_t y_usage, uint64_t y_low) {
    charge(tree, x, x_usage);
    charge(tree, y, y_usage);
    ASSERT_OK(tree.set_limit(x, Limit::low, x_low));
    ASSERT_OK(tree.set_limit(y, Limit::low, y_low));
    ASSERT_OK(tree.set_limit(x, Limit::min, x_low));
    ASSERT_OK(tree.set_limit(y, Limit::min, y_low));
  }
  std::map<MemcgId, EffectiveProtection> effective(MemcgId root = kRootId) {
    return by_id(tree.effective_protection(root).value());
  }
  MemcgTree tree;
  MemcgId p, x, y;
};

TEST_F(MemcgParentLow8, OvercommittedChildrenShareInProportion) {
  setup(6, 6, 6, 6);  // 12 claimed and used > 8
  auto e = effective();
  EXPECT_EQ(e[p].elow, 8u);
  EXPECT_EQ(e[x].elow, 4u);
  EXPECT_EQ(e[y].elow, 4u);
  EXPECT_EQ(e[x].emin, 4u);  // min follows the same rule
  EXPECT_EQ(e[y].emin, 4u);
}

TEST_F(MemcgParentLow8, ProportionIsByProtectedUsageNotClaim) {
  setup(12, 12, 4, 12);  // claims 24, uses-and-claims 16 > 8
  auto e = effective();
  EXPECT_EQ(e[x].elow, 6u);  // 12 * 8 / 16
  EXPECT_EQ(e[y].elow, 2u);  // 4 * 8 / 16
}

TEST_F(MemcgParentLow8, UnusedClaimsLeaveRoomForSiblings) {
  setup(2, 6, 6, 6);  // X uses 2 of its 6: 8 in all, within P's 8
  auto e = effective();
  EXPECT_EQ(e[x].elow, 2u);
  EXPECT_EQ(e[y].elow, 6u);
}

TEST_F(MemcgParentLow8, UndercommittedChildrenKeepTheirOwnSettings) {
  setup(10, 4, 10, 0);  // 4 claimed of 8: not shared out (no recursive protection)
  auto e = effective();
  EXPECT_EQ(e[x].elow, 4u);
  EXPECT_EQ(e[y].elow, 0u);
}

TEST_F(MemcgParentLow8, AChildOfTheReclaimRootGetsItsRawSetting) {
  setup(2, 0, 2, 0);  // P uses 4, protected 8: the kernel does not clamp at this level
  auto e = effective();
  EXPECT_EQ(e[p].elow, 8u);
  EXPECT_EQ(e[p].emin, 8u);
  // With P as the reclaim root (P hit its own max), P is unprotected and X, Y get theirs.
  ASSERT_OK(tree.set_limit(x, Limit::low, 5));
  auto under_p = effective(p);
  EXPECT_EQ(under_p[p].elow, 0u);
  EXPECT_EQ(under_p[x].elow, 5u);
  EXPECT_FALSE(under_p.contains(kRootId));
}

TEST_F(MemcgParentLow8, NoUsageNoProtection) {
  setup(0, 6, 6, 6);
  auto e = effective();
  EXPECT_EQ(e[x].elow, 0u);
  EXPECT_EQ(e[y].elow, 6u);
}

TEST_F(MemcgParentLow8, ProtectionNarrowsDownTheLevels) {
  // T (low 5) -> P (low 8) -> X, Y: P gets at most T's 5, then X and Y share that.
  MemcgTree t;
  MemcgId tt = must(t.create_group(kRootId, "T"));
  MemcgId pp = must(t.create_group(tt, "P"));
  MemcgId xx = must(t.create_guest(pp, "X"));
  MemcgId yy = must(t.create_guest(pp, "Y"));
  ASSERT_OK(t.set_limit(tt, Limit::low, 5));
  ASSERT_OK(t.set_limit(pp, Limit::low, 8));
  ASSERT_OK(t.set_limit(xx, Limit::low, 6));
  ASSERT_OK(t.set_limit(yy, Limit::low, 6));
  charge(t, xx, 6);
  charge(t, yy, 6);
  auto e = by_id(t.effective_protection().value());
  EXPECT_EQ(e[tt].elow, 5u);
  EXPECT_EQ(e[pp].elow, 5u);  // min(12, 8) = 8 claimed of T's 5 -> 8 * 5 / 8
  EXPECT_EQ(e[xx].elow, 2u);  // 6 * 5 / 12, rounded down
  EXPECT_EQ(e[yy].elow, 2u);
}

class MemcgParentLow8Recursive : public MemcgParentLow8 {
 protected:
  MemcgParentLow8Recursive() : MemcgParentLow8(true) {}
};

TEST_F(MemcgParentLow8Recursive, UnclaimedProtectionFloatsToUnprotectedUsage) {
  setup(10, 4, 10, 0);  // 4 unclaimed, shared in proportion to unprotected usage 6 : 10
  auto e = effective();
  EXPECT_EQ(e[x].elow, 5u);  // 4 + 4 * 6 / 16
  EXPECT_EQ(e[y].elow, 2u);  // 0 + 4 * 10 / 16
}

class MemcgPressure : public ::testing::Test {
 protected:
  MemcgPressure() {
    x = must(tree.create_guest(kRootId, "X"));
    y = must(tree.create_guest(kRootId, "Y"));
  }
  ReclaimPlan plan(uint64_t goal, MemcgId root = kRootId) {
    auto r = tree.plan_reclaim(goal, root);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : ReclaimPlan{};
  }
  MemcgTree tree;
  MemcgId x, y;
};

TEST_F(MemcgPressure, WithoutProtectionSharesInProportionToUsage) {
  charge(tree, x, 30);
  charge(tree, y, 10);
  ReclaimPlan p = plan(20);
  auto s = by_id(p.shares);
  EXPECT_EQ(s[x].pages, 15u);
  EXPECT_EQ(s[y].pages, 5u);
  EXPECT_EQ(p.planned, 20u);
  EXPECT_EQ(p.unmet, 0u);
  EXPECT_EQ(p.from_low, 0u);
  EXPECT_TRUE(plan(0).shares.empty());
}

TEST_F(MemcgPressure, AboveLowFirstInProportionToTheExcess) {
  charge(tree, x, 10);
  charge(tree, y, 10);
  ASSERT_OK(tree.set_limit(x, Limit::low, 4));
  ReclaimPlan p = plan(12);  // excess 6 : 10
  auto s = by_id(p.shares);
  EXPECT_EQ(s[x].pages, 5u);  // 4.5 and 7.5: the tie's extra page to the earlier guest
  EXPECT_EQ(s[y].pages, 7u);
  EXPECT_EQ(p.from_low, 0u);
  EXPECT_EQ(snap(tree, x).events_local[Event::low], 0u);
}

TEST_F(MemcgPressure, LowOnlyWhenNothingElseIsLeftAndCounted) {
  charge(tree, x, 10);
  charge(tree, y, 10);
  ASSERT_OK(tree.set_limit(x, Limit::low, 4));
  ReclaimPlan p = plan(20);
  auto s = by_id(p.shares);
  EXPECT_EQ(s[x].pages, 10u);
  EXPECT_EQ(s[x].from_low, 4u);
  EXPECT_EQ(s[y].pages, 10u);
  EXPECT_EQ(s[y].from_low, 0u);
  EXPECT_EQ(p.from_low, 4u);
  EXPECT_EQ(p.unmet, 0u);
  EXPECT_EQ(snap(tree, x).events_local[Event::low], 1u);
  EXPECT_EQ(snap(tree, y).events_local[Event::low], 0u);
  EXPECT_EQ(snap(tree, kRootId).events[Event::low], 1u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgPressure, MinIsNeverPlanned) {
  charge(tree, x, 10);
  charge(tree, y, 4);
  ASSERT_OK(tree.set_limit(x, Limit::min, 3));
  ASSERT_OK(tree.set_limit(x, Limit::low, 6));
  ReclaimPlan p = plan(100);
  auto s = by_id(p.shares);
  EXPECT_EQ(s[x].pages, 7u);  // 4 above low, then 3 of low; 3 of min stay
  EXPECT_EQ(s[x].from_low, 3u);
  EXPECT_EQ(s[y].pages, 4u);
  EXPECT_EQ(p.planned, 11u);
  EXPECT_EQ(p.unmet, 89u);
  // Min above low protects as much as min says.
  ASSERT_OK(tree.set_limit(x, Limit::low, 0));
  ASSERT_OK(tree.set_limit(x, Limit::min, 8));
  p = plan(100);
  EXPECT_EQ(by_id(p.shares)[x].pages, 2u);
  EXPECT_EQ(p.from_low, 0u);
}

TEST_F(MemcgPressure, LowPassIsProportionalToProtectedRoom) {
  charge(tree, x, 8);
  charge(tree, y, 4);
  ASSERT_OK(tree.set_limit(x, Limit::low, 8));
  ASSERT_OK(tree.set_limit(y, Limit::low, 4));
  ReclaimPlan p = plan(6);  // nothing above low: 6 of 12 low pages, 2 : 1
  auto s = by_id(p.shares);
  EXPECT_EQ(s[x].pages, 4u);
  EXPECT_EQ(s[y].pages, 2u);
  EXPECT_EQ(p.from_low, 6u);
  EXPECT_EQ(snap(tree, x).events_local[Event::low], 1u);
  EXPECT_EQ(snap(tree, y).events_local[Event::low], 1u);
}

TEST_F(MemcgPressure, EffectiveNotRawProtectionIsWhatCounts) {
  // Under a group with low 8, two guests claiming 6 each get 4 each: pages above 4 go first.
  MemcgId p = must(tree.create_group(kRootId, "P"));
  MemcgId a = must(tree.create_guest(p, "A"));
  MemcgId b = must(tree.create_guest(p, "B"));
  ASSERT_OK(tree.set_limit(p, Limit::low, 8));
  ASSERT_OK(tree.set_limit(a, Limit::low, 6));
  ASSERT_OK(tree.set_limit(b, Limit::low, 6));
  charge(tree, a, 6);
  charge(tree, b, 6);
  ReclaimPlan plan_p = plan(4);
  auto s = by_id(plan_p.shares);
  EXPECT_EQ(s[a].pages, 2u);
  EXPECT_EQ(s[b].pages, 2u);
  EXPECT_EQ(plan_p.from_low, 0u);
  // Reclaim under P (it hit its own max): P's protection does not count, theirs does.
  ReclaimPlan under = plan(4, p);
  auto su = by_id(under.shares);
  EXPECT_EQ(su[a].pages, 2u);
  EXPECT_EQ(su[a].from_low, 2u);
  EXPECT_FALSE(su.contains(x));
  EXPECT_EQ(under.unmet, 0u);
}

}  // namespace
}  // namespace tide::gmm::memcg
