// Unit: scan balance — Linux's inactive ratio, the plan's proportions, swappiness 0 and
// 200, tiny lists, goals larger than the lists, progress whenever there is something to
// reclaim, and shrink_lru() applying a plan to a PageLru.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "guestmm/aging/page_lru.hpp"
#include "guestmm/aging/scan_balance.hpp"

namespace tide::gmm::aging {
namespace {

constexpr uint64_t kGiBPages = 262144;  // 4 KiB pages

ScanPlan plan(uint64_t inactive, uint64_t active, uint64_t goal, unsigned swappiness) {
  return plan_scan(ScanInput{inactive, active, goal, swappiness});
}

// What a plan leaves if every examined page is taken: the refill must keep the inactive
// list at its target.
void expect_refilled(const ScanInput& in, const ScanPlan& p) {
  const uint64_t taken = std::min(std::min(in.nr_to_reclaim, in.nr_inactive + in.nr_active), p.nr_scan_inactive);
  const uint64_t inactive = in.nr_inactive - taken + p.nr_deactivate;
  const uint64_t active = in.nr_active - p.nr_deactivate;
  EXPECT_GE(inactive * p.inactive_ratio, active)
      << "inactive " << in.nr_inactive << " active " << in.nr_active << " goal " << in.nr_to_reclaim;
}

TEST(InactiveRatio, FollowsLinuxSqrtOfTenTimesGiB) {
  EXPECT_EQ(inactive_ratio(0), 1u);
  EXPECT_EQ(inactive_ratio(kGiBPages - 1), 1u);
  EXPECT_EQ(inactive_ratio(kGiBPages), 3u);        // sqrt(10)
  EXPECT_EQ(inactive_ratio(10 * kGiBPages), 10u);  // sqrt(100)
  EXPECT_EQ(inactive_ratio(100 * kGiBPages), 31u);
  EXPECT_EQ(inactive_ratio(1024 * kGiBPages), 101u);
  EXPECT_EQ(inactive_ratio(UINT64_MAX), 26'527'107u);  // no overflow at the extreme
}

TEST(InactiveRatio, InactiveIsLow) {
  EXPECT_FALSE(inactive_is_low(100, 100));  // below 1 GiB: 1:1
  EXPECT_TRUE(inactive_is_low(99, 101));
  EXPECT_FALSE(inactive_is_low(0, 0));
  EXPECT_TRUE(inactive_is_low(0, 1));
  // 10 GiB: one inactive page per ten active ones is enough.
  EXPECT_FALSE(inactive_is_low(kGiBPages, 9 * kGiBPages));
  EXPECT_TRUE(inactive_is_low(kGiBPages / 2, 10 * kGiBPages - kGiBPages / 2));
}

TEST(ScanPlan, NothingToDoPlansNothing) {
  EXPECT_EQ(plan(100, 100, 0, 60), (ScanPlan{0, 0, 1}));
  EXPECT_EQ(plan(0, 0, 100, 60), (ScanPlan{0, 0, 1}));
}

TEST(ScanPlan, BalancedListsAtDefaultSwappiness) {
  // 1000 + 1000 pages (below 1 GiB, ratio 1), goal 10, swappiness 60:
  // scan ceil(10 * 1.6) = 16; refill after taking 10: ceil((1000 - 990) / 2) = 5;
  // pre-age ceil(ceil(10 * 140 / 200) * 1000 / 2000) = 4.
  EXPECT_EQ(plan(1000, 1000, 10, 60), (ScanPlan{16, 9, 1}));
}

TEST(ScanPlan, SwappinessExtremes) {
  // 0: examine exactly the goal, age the active list's share of the goal beyond the refill.
  EXPECT_EQ(plan(1000, 1000, 10, 0), (ScanPlan{10, 10, 1}));
  // 200: examine three times the goal, deactivate only to keep the ratio.
  EXPECT_EQ(plan(1000, 1000, 10, 200), (ScanPlan{30, 5, 1}));
  // Above 200 is 200.
  EXPECT_EQ(plan(1000, 1000, 10, 1000), plan(1000, 1000, 10, 200));
}

TEST(ScanPlan, SwappinessMovesScanAndAgingInOppositeDirections) {
  ScanPlan prev = plan(5000, 3000, 300, 0);
  for (unsigned s = 10; s <= 200; s += 10) {
    const ScanPlan p = plan(5000, 3000, 300, s);
    EXPECT_GE(p.nr_scan_inactive, prev.nr_scan_inactive) << "swappiness " << s;
    EXPECT_LE(p.nr_deactivate, prev.nr_deactivate) << "swappiness " << s;
    prev = p;
  }
  EXPECT_GT(plan(5000, 3000, 300, 200).nr_scan_inactive, plan(5000, 3000, 300, 0).nr_scan_inactive);
  EXPECT_LT(plan(5000, 3000, 300, 200).nr_deactivate, plan(5000, 3000, 300, 0).nr_deactivate);
}

TEST(ScanPlan, DeactivationFollowsTheActiveListsShare) {
  // Inactive well above its target in both, so only pre-aging deactivates: it grows with
  // the active list's share of the pages.
  const ScanPlan small_active = plan(9000, 1000, 100, 0);
  const ScanPlan large_active = plan(6000, 4000, 100, 0);
  EXPECT_EQ(small_active.nr_deactivate, 10u);  // 100 * 1000 / 10000
  EXPECT_EQ(large_active.nr_deactivate, 40u);  // 100 * 4000 / 10000
  // Scaling every size and the goal scales the plan.
  const ScanPlan scaled = plan(90000, 10000, 1000, 0);
  EXPECT_EQ(scaled.nr_deactivate, 10 * small_active.nr_deactivate);
  EXPECT_EQ(scaled.nr_scan_inactive, 10 * small_active.nr_scan_inactive);
}

TEST(ScanPlan, LowInactiveListIsRefilledToItsTarget) {
  // 16 GiB guest, almost everything active: ratio 12 (sqrt(160)).
  const ScanInput in{100, 16 * kGiBPages - 100, 64, 200};
  const ScanPlan p = plan_scan(in);
  EXPECT_EQ(p.inactive_ratio, 12u);
  EXPECT_EQ(p.nr_scan_inactive, 100u);  // the whole list, 3x the goal being more
  // 64 taken leaves 36: (36 + d) * 12 >= active - d  =>  d = ceil((active - 432) / 13)
  EXPECT_EQ(p.nr_deactivate, (in.nr_active - 432 + 12) / 13);
  expect_refilled(in, p);
}

TEST(ScanPlan, TinyListsStillMakeProgress) {
  // One active page, nothing inactive: deactivate it so the next pass can take it.
  EXPECT_EQ(plan(0, 1, 1, 0), (ScanPlan{0, 1, 1}));
  EXPECT_EQ(plan(0, 1, 1, 200), (ScanPlan{0, 1, 1}));
  // One inactive page: examine it.
  EXPECT_EQ(plan(1, 0, 1, 0), (ScanPlan{1, 0, 1}));
  EXPECT_EQ(plan(1, 0, 5, 200), (ScanPlan{1, 0, 1}));
  // One of each.
  const ScanPlan p = plan(1, 1, 1, 60);
  EXPECT_EQ(p.nr_scan_inactive, 1u);
  EXPECT_EQ(p.nr_deactivate, 1u);
}

TEST(ScanPlan, GoalLargerThanTheListsIsBoundedByThem) {
  const ScanInput in{30, 70, 1'000'000, 200};
  const ScanPlan p = plan_scan(in);
  EXPECT_EQ(p.nr_scan_inactive, 30u);
  EXPECT_EQ(p.nr_deactivate, 35u);  // all inactive taken: half the active list refills it
  expect_refilled(in, p);
  const ScanPlan huge = plan(UINT64_MAX / 4, UINT64_MAX / 4, UINT64_MAX, 100);
  EXPECT_EQ(huge.nr_scan_inactive, UINT64_MAX / 4);
  EXPECT_LE(huge.nr_deactivate, UINT64_MAX / 4);
}

TEST(ScanPlan, RandomInputsAreBoundedRefilledAndMakeProgress) {
  std::mt19937_64 rng(7);
  for (int k = 0; k < 20000; ++k) {
    const uint64_t scale = uint64_t{1} << (rng() % 24);
    const ScanInput in{rng() % scale, rng() % scale, rng() % (2 * scale), static_cast<unsigned>(rng() % 201)};
    const ScanPlan p = plan_scan(in);
    ASSERT_LE(p.nr_scan_inactive, in.nr_inactive);
    ASSERT_LE(p.nr_deactivate, in.nr_active);
    if (in.nr_to_reclaim > 0 && in.nr_inactive + in.nr_active > 0) {
      ASSERT_GT(p.nr_scan_inactive + p.nr_deactivate, 0u);
      ASSERT_GE(p.nr_scan_inactive, std::min(in.nr_to_reclaim, in.nr_inactive));  // never below the goal
      if (in.nr_inactive == 0) {
        ASSERT_GT(p.nr_deactivate, 0u);
      }
      expect_refilled(in, p);
    } else {
      ASSERT_EQ(p.nr_scan_inactive + p.nr_deactivate, 0u);
    }
  }
}

PageLru make(uint64_t n) {
  auto l = PageLru::create(n);
  EXPECT_TRUE(l);
  return std::move(*l);
}

TEST(ShrinkLru, TakesVictimsThenRefills) {
  PageLru l = make(64);
  for (uint64_t i = 0; i < 16; ++i) ASSERT_TRUE(l.add(i));
  for (uint64_t i = 16; i < 48; ++i) ASSERT_TRUE(l.add(i, LruList::active));
  std::vector<uint64_t> victims;
  const ReclaimPass pass = shrink_lru(l, 4, 60, victims);
  EXPECT_EQ(victims, (std::vector<uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(pass.isolate.moved, 4u);
  EXPECT_EQ(pass.plan, plan(16, 32, 4, 60));
  EXPECT_EQ(pass.age.moved, pass.plan.nr_deactivate);
  EXPECT_EQ(l.nr_isolated(), 4u);
  EXPECT_EQ(l.nr_active(), 32 - pass.plan.nr_deactivate);
  EXPECT_FALSE(inactive_is_low(l.nr_inactive(), l.nr_active()));
  ASSERT_TRUE(l.check_invariants());
}

TEST(ShrinkLru, AllActiveTakesNothingThenTheNextPassDoes) {
  PageLru l = make(8);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(l.add(i, LruList::active));
  std::vector<uint64_t> victims;
  ReclaimPass pass = shrink_lru(l, 1, 60, victims);
  EXPECT_TRUE(victims.empty());
  EXPECT_GT(pass.age.moved, 0u);  // progress: the inactive list is refilled
  pass = shrink_lru(l, 1, 60, victims);
  EXPECT_EQ(victims, (std::vector<uint64_t>{0}));  // the oldest active page
  ASSERT_TRUE(l.check_invariants());
}

TEST(ShrinkLru, ReferencedTailNeedsADeepScanAtHighSwappiness) {
  // Tail: two referenced pages, then cold ones. Swappiness 0 looks at exactly the goal (2)
  // and takes nothing; 200 looks further and takes two.
  for (unsigned s : {0u, 200u}) {
    PageLru l = make(16);
    for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(l.add(i));
    ASSERT_EQ(l.mark_referenced(0), Touch::referenced);
    ASSERT_EQ(l.mark_referenced(1), Touch::referenced);
    std::vector<uint64_t> victims;
    (void)shrink_lru(l, 2, s, victims);
    if (s == 0) {
      EXPECT_TRUE(victims.empty());
    } else {
      EXPECT_EQ(victims, (std::vector<uint64_t>{2, 3}));
    }
    ASSERT_TRUE(l.check_invariants());
  }
}

TEST(ShrinkLru, BoundsTheActiveScanWhenEverythingIsReferenced) {
  PageLru l = make(1024);
  for (uint64_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(l.add(i, LruList::active));
    ASSERT_EQ(l.mark_referenced(i), Touch::referenced);
  }
  std::vector<uint64_t> victims;
  const ReclaimPass pass = shrink_lru(l, 1, 200, victims);
  EXPECT_EQ(pass.plan.nr_deactivate, 500u);  // ratio 1: half the pages
  EXPECT_EQ(pass.age.scanned, 1000u);        // min(2 * 500 + 32, active)
  EXPECT_EQ(pass.age.moved, 0u);
  // A longer active list: the scan stops at 2 * nr_deactivate + 32.
  l = make(8192);
  for (uint64_t i = 0; i < 4000; ++i) {
    ASSERT_TRUE(l.add(i, LruList::active));
    ASSERT_EQ(l.mark_referenced(i), Touch::referenced);
  }
  for (uint64_t i = 4000; i < 7900; ++i) ASSERT_TRUE(l.add(i));
  const ReclaimPass p2 = shrink_lru(l, 64, 200, victims);
  EXPECT_EQ(p2.plan.nr_deactivate, 82u);  // ceil((4000 - (3900 - 64)) / 2)
  EXPECT_EQ(p2.age.scanned, 2 * 82u + 32);
  EXPECT_EQ(p2.age.moved, 0u);
  ASSERT_TRUE(l.check_invariants());
}

TEST(BackgroundAging, OnlyWhenTheInactiveListIsLowAndOnlyWhatItNeeds) {
  PageLru l = make(256);
  for (uint64_t i = 0; i < 60; ++i) ASSERT_TRUE(l.add(i));
  for (uint64_t i = 60; i < 100; ++i) ASSERT_TRUE(l.add(i, LruList::active));
  EXPECT_EQ(age_if_inactive_low(l).scanned, 0u);  // 60 inactive >= 40 active
  EXPECT_EQ(l.nr_active(), 40u);
  for (uint64_t i = 100; i < 160; ++i) ASSERT_TRUE(l.add(i, LruList::active));
  // 60 inactive, 100 active, ratio 1: 20 deactivations reach 80:80.
  ScanStats st = age_if_inactive_low(l, 32);
  EXPECT_EQ(st.moved, 20u);
  EXPECT_EQ(l.nr_inactive(), 80u);
  EXPECT_FALSE(inactive_is_low(l.nr_inactive(), l.nr_active()));
  // A batch smaller than the need; referenced pages rotate, examined at most 2 * batch.
  for (uint64_t i = 160; i < 240; ++i) ASSERT_TRUE(l.add(i, LruList::active));
  for (uint64_t i = 80; i < 90; ++i) ASSERT_EQ(l.mark_referenced(i), Touch::referenced);  // the active tail
  st = age_if_inactive_low(l, 8);
  EXPECT_EQ(st.scanned, 16u);
  EXPECT_EQ(st.rotated, 10u);
  EXPECT_EQ(st.moved, 6u);
  EXPECT_EQ(age_if_inactive_low(l, 0).scanned, 0u);
  ASSERT_TRUE(l.check_invariants());
}

}  // namespace
}  // namespace tide::gmm::aging
