// Unit: hierarchical charging — sums up the tree, max at each level (nothing charged on
// failure, the lowest limiting node named, max events), high reports and events, peak,
// forced charges, swap against swap.max, headroom, stats aggregation.
#include <gtest/gtest.h>

#include "memcg_test_util.hpp"

namespace tide::gmm::memcg {
namespace {

using test::current;
using test::must;
using test::snap;

// root -> t (group) -> g1, g2 (guests); root -> g3 (guest)
class MemcgCharge : public ::testing::Test {
 protected:
  explicit MemcgCharge(MemcgTreeOptions o = {}) : tree(o) {
    t = must(tree.create_group(kRootId, "t"));
    g1 = must(tree.create_guest(t, "g1"));
    g2 = must(tree.create_guest(t, "g2"));
    g3 = must(tree.create_guest(kRootId, "g3"));
  }
  ChargeResult charge(MemcgId leaf, uint64_t pages) {
    auto r = tree.try_charge(leaf, pages);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : ChargeResult{};
  }
  uint64_t local(MemcgId id, Event e) { return snap(tree, id).events_local[e]; }
  uint64_t hier(MemcgId id, Event e) { return snap(tree, id).events[e]; }

  MemcgTree tree;
  MemcgId t, g1, g2, g3;
};

TEST_F(MemcgCharge, ChargesCountAgainstEveryAncestor) {
  EXPECT_TRUE(charge(g1, 10).charged);
  EXPECT_TRUE(charge(g2, 5).charged);
  EXPECT_TRUE(charge(g3, 7).charged);
  ASSERT_AUDIT(tree);
  EXPECT_EQ(current(tree, g1), 10u);
  EXPECT_EQ(current(tree, t), 15u);
  EXPECT_EQ(current(tree, kRootId), 22u);
  ASSERT_OK(tree.uncharge(g1, 4));
  ASSERT_AUDIT(tree);
  EXPECT_EQ(current(tree, g1), 6u);
  EXPECT_EQ(current(tree, t), 11u);
  EXPECT_EQ(current(tree, kRootId), 18u);
  ASSERT_OK(tree.uncharge(g1, 6));
  ASSERT_OK(tree.uncharge(g2, 5));
  EXPECT_EQ(current(tree, t), 0u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, MaxAtTheGuestRefusesAndChargesNothing) {
  ASSERT_OK(tree.set_limit(g1, Limit::max, 10));
  EXPECT_TRUE(charge(g1, 8).charged);
  ChargeResult r = charge(g1, 3);
  EXPECT_FALSE(r.charged);
  EXPECT_EQ(r.limited_by, g1);
  EXPECT_TRUE(r.over_high.empty());
  EXPECT_EQ(current(tree, g1), 8u);
  EXPECT_EQ(current(tree, t), 8u);
  EXPECT_EQ(current(tree, kRootId), 8u);
  EXPECT_EQ(local(g1, Event::max), 1u);
  EXPECT_EQ(hier(t, Event::max), 1u);   // counted up the tree...
  EXPECT_EQ(local(t, Event::max), 0u);  // ...but it happened at g1
  EXPECT_EQ(hier(kRootId, Event::max), 1u);
  EXPECT_TRUE(charge(g1, 2).charged);  // exactly at max is allowed
  EXPECT_FALSE(charge(g1, 1).charged);
  EXPECT_EQ(local(g1, Event::max), 2u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, MaxAtTheGroupRefusesASiblingsCharge) {
  ASSERT_OK(tree.set_limit(t, Limit::max, 12));
  EXPECT_TRUE(charge(g1, 8).charged);
  ChargeResult r = charge(g2, 5);
  EXPECT_FALSE(r.charged);
  EXPECT_EQ(r.limited_by, t);
  EXPECT_EQ(current(tree, g2), 0u);
  EXPECT_EQ(current(tree, t), 8u);
  EXPECT_EQ(local(t, Event::max), 1u);
  EXPECT_EQ(local(g2, Event::max), 0u);
  EXPECT_TRUE(charge(g3, 100).charged);  // outside the group: unaffected
  EXPECT_TRUE(charge(g2, 4).charged);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, MaxAtTheRootIsTheHostBudget) {
  ASSERT_OK(tree.set_limit(kRootId, Limit::max, 20));
  EXPECT_TRUE(charge(g1, 10).charged);
  EXPECT_TRUE(charge(g3, 10).charged);
  ChargeResult r = charge(g2, 1);
  EXPECT_FALSE(r.charged);
  EXPECT_EQ(r.limited_by, kRootId);
  EXPECT_EQ(local(kRootId, Event::max), 1u);
  EXPECT_EQ(tree.headroom(g2).value(), 0u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, TheLowestLimitingNodeIsNamed) {
  ASSERT_OK(tree.set_limit(g1, Limit::max, 5));
  ASSERT_OK(tree.set_limit(t, Limit::max, 5));
  ASSERT_OK(tree.set_limit(kRootId, Limit::max, 5));
  ChargeResult r = charge(g1, 6);
  EXPECT_FALSE(r.charged);
  EXPECT_EQ(r.limited_by, g1);  // reclaiming there helps every level above it too
  EXPECT_EQ(local(g1, Event::max), 1u);
  EXPECT_EQ(local(t, Event::max), 0u);
  EXPECT_EQ(local(kRootId, Event::max), 0u);
}

TEST_F(MemcgCharge, HighIsReportedAndCountedAtEachLevel) {
  ASSERT_OK(tree.set_limit(g1, Limit::high, 4));
  ASSERT_OK(tree.set_limit(t, Limit::high, 10));
  ChargeResult r = charge(g1, 5);
  ASSERT_TRUE(r.charged);
  ASSERT_EQ(r.over_high.size(), 1u);
  EXPECT_EQ(r.over_high[0], g1);
  r = charge(g2, 6);  // t at 11
  ASSERT_TRUE(r.charged);
  ASSERT_EQ(r.over_high.size(), 1u);
  EXPECT_EQ(r.over_high[0], t);
  r = charge(g1, 1);  // both over
  ASSERT_EQ(r.over_high.size(), 2u);
  EXPECT_EQ(r.over_high[0], g1);
  EXPECT_EQ(r.over_high[1], t);
  EXPECT_EQ(local(g1, Event::high), 2u);
  EXPECT_EQ(local(t, Event::high), 2u);
  EXPECT_EQ(hier(t, Event::high), 4u);
  EXPECT_EQ(hier(kRootId, Event::high), 4u);
  EXPECT_EQ(local(g2, Event::high), 0u);
  ASSERT_OK(tree.uncharge(g1, 6));
  r = charge(g1, 1);  // g1 at 1, t at 7: under both
  EXPECT_TRUE(r.over_high.empty());
  EXPECT_EQ(local(g1, Event::high), 2u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, PeakFollowsTheHighestCurrentAndResets) {
  EXPECT_TRUE(charge(g1, 10).charged);
  ASSERT_OK(tree.uncharge(g1, 7));
  EXPECT_EQ(snap(tree, g1).peak, 10u);
  EXPECT_EQ(snap(tree, t).peak, 10u);
  ASSERT_OK(tree.reset_peak(g1));
  EXPECT_EQ(snap(tree, g1).peak, 3u);
  EXPECT_EQ(snap(tree, t).peak, 10u);  // per node
  EXPECT_TRUE(charge(g2, 2).charged);
  EXPECT_EQ(snap(tree, g1).peak, 3u);
  EXPECT_EQ(snap(tree, t).peak, 10u);
  EXPECT_TRUE(charge(g2, 6).charged);
  EXPECT_EQ(snap(tree, t).peak, 11u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, UnchargeBelowZeroIsABugAndChangesNothing) {
  EXPECT_TRUE(charge(g1, 3).charged);
  EXPECT_TRUE(charge(g2, 5).charged);
  auto st = tree.uncharge(g1, 4);  // t has 8, but g1 only 3
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, std::make_error_code(std::errc::state_not_recoverable));
  EXPECT_NE(st.error().message().find("/t/g1"), std::string::npos) << st.error().message();
  EXPECT_EQ(current(tree, g1), 3u);
  EXPECT_EQ(current(tree, t), 8u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, OnlyGuestsAreCharged) {
  EXPECT_ERRC(tree.try_charge(t, 1), std::errc::invalid_argument);
  EXPECT_ERRC(tree.try_charge(kRootId, 1), std::errc::invalid_argument);
  EXPECT_ERRC(tree.charge_force(t, 1), std::errc::invalid_argument);
  EXPECT_ERRC(tree.uncharge(t, 0), std::errc::invalid_argument);
  EXPECT_ERRC(tree.try_charge_swap(t, 1), std::errc::invalid_argument);
  EXPECT_ERRC(tree.try_charge(MemcgId{}, 1), std::errc::no_such_file_or_directory);
  EXPECT_ERRC(tree.try_charge(MemcgId(1000), 1), std::errc::no_such_file_or_directory);
}

TEST_F(MemcgCharge, ZeroPagesIsANoOpAndOverflowIsRefused) {
  ASSERT_OK(tree.set_limit(g1, Limit::max, 0));
  EXPECT_TRUE(charge(g1, 0).charged);  // even at max 0: nothing is asked for
  EXPECT_EQ(local(g1, Event::max), 0u);
  ASSERT_OK(tree.set_limit(g1, Limit::max, kUnlimited));
  EXPECT_TRUE(charge(g1, kMaxPages).charged);
  EXPECT_ERRC(tree.try_charge(g1, 1), std::errc::value_too_large);
  EXPECT_ERRC(tree.charge_force(g2, 1), std::errc::value_too_large);  // the root is full
  EXPECT_ERRC(tree.try_charge(g2, kMaxPages + 1), std::errc::value_too_large);
  EXPECT_EQ(current(tree, g2), 0u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, ForcedChargesGoThroughAndAreCounted) {
  ASSERT_OK(tree.set_limit(g1, Limit::max, 5));
  ASSERT_OK(tree.set_limit(t, Limit::high, 6));
  auto r = tree.charge_force(g1, 4);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->charged);
  EXPECT_FALSE(r->limited_by.valid());  // within max: an ordinary charge
  EXPECT_EQ(snap(tree, g1).stat[Stat::forced_charges], 0u);
  r = tree.charge_force(g1, 4);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->charged);
  EXPECT_EQ(r->limited_by, g1);
  ASSERT_EQ(r->over_high.size(), 1u);
  EXPECT_EQ(r->over_high[0], t);
  EXPECT_EQ(current(tree, g1), 8u);
  EXPECT_EQ(local(g1, Event::max), 1u);
  EXPECT_EQ(snap(tree, g1).stat[Stat::forced_charges], 1u);
  EXPECT_EQ(snap(tree, kRootId).stat[Stat::forced_charges], 1u);
  EXPECT_FALSE(charge(g1, 1).charged);  // still above max: ordinary charges fail
  EXPECT_EQ(tree.headroom(g1).value(), 0u);
  ASSERT_AUDIT(tree);  // above max is not a broken invariant
}

TEST_F(MemcgCharge, SwapIsChargedAgainstSwapMaxSeparately) {
  ASSERT_OK(tree.set_limit(g1, Limit::swap_max, 4));
  ASSERT_OK(tree.set_limit(t, Limit::swap_max, 6));
  ASSERT_OK(tree.set_limit(g1, Limit::max, 1));  // memory limits do not apply to swap
  auto s = tree.try_charge_swap(g1, 3);
  ASSERT_TRUE(s && s->charged);
  s = tree.try_charge_swap(g1, 2);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->charged);
  EXPECT_EQ(s->limited_by, g1);
  EXPECT_EQ(local(g1, Event::swap_max), 1u);
  EXPECT_EQ(local(g1, Event::swap_fail), 1u);
  s = tree.try_charge_swap(g2, 4);  // t would reach 7
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->charged);
  EXPECT_EQ(s->limited_by, t);
  EXPECT_EQ(local(t, Event::swap_max), 1u);
  EXPECT_EQ(local(g2, Event::swap_fail), 1u);  // the guest whose swap-out failed
  EXPECT_EQ(local(g2, Event::swap_max), 0u);
  EXPECT_EQ(hier(kRootId, Event::swap_fail), 2u);
  EXPECT_TRUE(tree.try_charge_swap(g2, 3).value().charged);
  MemcgSnapshot ts = snap(tree, t);
  EXPECT_EQ(ts.swap_current, 6u);
  EXPECT_EQ(ts.swap_peak, 6u);
  EXPECT_EQ(ts.current, 0u);
  EXPECT_ERRC(tree.uncharge_swap(g1, 4), std::errc::state_not_recoverable);
  ASSERT_OK(tree.uncharge_swap(g1, 3));
  EXPECT_EQ(snap(tree, t).swap_current, 3u);
  EXPECT_EQ(snap(tree, t).swap_peak, 6u);
  ASSERT_OK(tree.reset_swap_peak(t));
  EXPECT_EQ(snap(tree, t).swap_peak, 3u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, HeadroomIsTheTightestLevel) {
  EXPECT_EQ(tree.headroom(g1).value(), kMaxPages);
  ASSERT_OK(tree.set_limit(t, Limit::max, 100));
  ASSERT_OK(tree.set_limit(g1, Limit::max, 60));
  EXPECT_EQ(tree.headroom(g1).value(), 60u);
  EXPECT_TRUE(charge(g2, 70).charged);
  EXPECT_EQ(tree.headroom(g1).value(), 30u);
  EXPECT_EQ(tree.headroom(g2).value(), 30u);
  EXPECT_TRUE(charge(g1, 30).charged);  // exactly the headroom fits
  EXPECT_EQ(tree.headroom(g1).value(), 0u);
  EXPECT_ERRC(tree.headroom(t), std::errc::invalid_argument);
}

TEST_F(MemcgCharge, StatsAggregateUpTheTree) {
  ASSERT_OK(tree.stat_add(g1, Stat::resident, 10));
  ASSERT_OK(tree.stat_add(g2, Stat::resident, 5));
  ASSERT_OK(tree.stat_add(g1, Stat::faults, 3));
  ASSERT_OK(tree.stat_add(g2, Stat::reclaimed_balloon, 7));
  ASSERT_OK(tree.stat_sub(g1, Stat::resident, 4));
  ASSERT_OK(tree.stat_set(g2, Stat::ballooned, 9));
  ASSERT_OK(tree.stat_set(g2, Stat::ballooned, 2));
  MemcgSnapshot ts = snap(tree, t);
  EXPECT_EQ(ts.stat[Stat::resident], 11u);
  EXPECT_EQ(ts.stat[Stat::faults], 3u);
  EXPECT_EQ(ts.stat[Stat::reclaimed_balloon], 7u);
  EXPECT_EQ(ts.stat[Stat::ballooned], 2u);
  EXPECT_EQ(snap(tree, kRootId).stat[Stat::resident], 11u);
  EXPECT_EQ(snap(tree, g1).stat[Stat::resident], 6u);
  // Counters only go up; gauges never below zero; only guests report.
  EXPECT_ERRC(tree.stat_sub(g1, Stat::faults, 1), std::errc::invalid_argument);
  EXPECT_ERRC(tree.stat_set(g1, Stat::faults, 1), std::errc::invalid_argument);
  EXPECT_ERRC(tree.stat_sub(g1, Stat::resident, 7), std::errc::state_not_recoverable);
  EXPECT_ERRC(tree.stat_add(t, Stat::resident, 1), std::errc::invalid_argument);
  EXPECT_ERRC(tree.stat_add(g1, Stat::resident, kMaxPages), std::errc::value_too_large);
  EXPECT_ERRC(tree.stat_set(g1, Stat::resident, kMaxPages + 1), std::errc::value_too_large);
  EXPECT_EQ(snap(tree, g1).stat[Stat::resident], 6u);
  ASSERT_AUDIT(tree);
  // A removed guest's gauges leave the sums; its counters stay.
  ASSERT_OK(tree.remove(g1));
  ts = snap(tree, t);
  EXPECT_EQ(ts.stat[Stat::resident], 5u);
  EXPECT_EQ(ts.stat[Stat::faults], 3u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgCharge, RecordedEventsGoUpTheTree) {
  ASSERT_OK(tree.record_event(g1, Event::oom, 2));
  ASSERT_OK(tree.record_event(t, Event::oom));
  EXPECT_EQ(local(g1, Event::oom), 2u);
  EXPECT_EQ(local(t, Event::oom), 1u);
  EXPECT_EQ(hier(t, Event::oom), 3u);
  EXPECT_EQ(hier(kRootId, Event::oom), 3u);
  EXPECT_EQ(local(kRootId, Event::oom), 0u);
  EXPECT_ERRC(tree.record_event(MemcgId(77), Event::oom), std::errc::no_such_file_or_directory);
  ASSERT_AUDIT(tree);
}

}  // namespace
}  // namespace tide::gmm::memcg
