// Unit: check_invariants catches a deliberately corrupted tree (sums, peaks, wrapped
// counters, stats, events, links), and passes again once the damage is undone.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "memcg_test_util.hpp"

namespace tide::gmm::memcg {
namespace {

using test::must;

class MemcgAudit : public ::testing::Test {
 protected:
  MemcgAudit() {
    t = must(tree.create_group(kRootId, "t"));
    g1 = must(tree.create_guest(t, "g1"));
    g2 = must(tree.create_guest(t, "g2"));
    EXPECT_TRUE(tree.try_charge(g1, 10).value().charged);
    EXPECT_TRUE(tree.try_charge(g2, 4).value().charged);
    EXPECT_TRUE(tree.try_charge_swap(g2, 3).value().charged);
    EXPECT_TRUE(tree.stat_add(g1, Stat::resident, 10));
    EXPECT_TRUE(tree.stat_add(g1, Stat::faults, 2));
    EXPECT_TRUE(tree.record_event(g1, Event::high));
  }
  Node& node(MemcgId id) { return MemcgTreeTestPeer::node(tree, id); }

  // Applies `corrupt`, expects the audit to fail naming `expect`, undoes it, audits clean.
  void expect_caught(const std::function<void()>& corrupt, const std::function<void()>& undo,
                     const std::string& expect) {
    ASSERT_AUDIT(tree);
    corrupt();
    auto st = tree.check_invariants();
    ASSERT_FALSE(st) << "corruption not caught: " << expect;
    EXPECT_EQ(st.error().code, std::make_error_code(std::errc::state_not_recoverable));
    EXPECT_NE(st.error().message().find(expect), std::string::npos) << st.error().message();
    undo();
    ASSERT_AUDIT(tree);
  }

  MemcgTree tree;
  MemcgId t, g1, g2;
};

TEST_F(MemcgAudit, AGroupsCurrentMustBeItsChildrensSum) {
  // The root is checked first: it sees its child's figure, not its own, disagree.
  expect_caught([&] { node(t).current += 1; }, [&] { node(t).current -= 1; }, "node 0 (): current 14, but its children's sum to 15");
  expect_caught([&] { node(kRootId).current -= 1; }, [&] { node(kRootId).current += 1; }, "current 13, but its children's sum to 14");
  // The leaf drifting alone breaks its parent's sum.
  expect_caught([&] { node(g1).current -= 2; }, [&] { node(g1).current += 2; }, "node 1 (t): current 14, but its children's sum to 12");
}

TEST_F(MemcgAudit, SwapSumsToo) {
  expect_caught([&] { node(t).swap_current = 0; }, [&] { node(t).swap_current = 3; }, "swap current 3, but its children's sum to 0");
}

TEST_F(MemcgAudit, PeakBelowCurrent) {
  expect_caught([&] { node(g1).peak = 9; }, [&] { node(g1).peak = 10; }, "peak 9 below current 10");
  expect_caught([&] { node(g2).swap_peak = 1; }, [&] { node(g2).swap_peak = 3; }, "swap peak 1");
}

TEST_F(MemcgAudit, ACounterThatWentBelowZero) {
  // An unchecked uncharge of 5 from g2 (which has 4) keeps the sums but wraps g2 itself.
  auto by = [&](int64_t d) {
    for (MemcgId id : {g2, t, kRootId}) node(id).current += static_cast<uint64_t>(d);
  };
  expect_caught([&] { by(-5); }, [&] { by(5); }, "node 3 (g2): current 18446744073709551615");
  expect_caught([&] { by(-5); }, [&] { by(5); }, "below zero");
}

TEST_F(MemcgAudit, StatsAndEvents) {
  expect_caught([&] { node(kRootId).stat[Stat::resident] += 1; }, [&] { node(kRootId).stat[Stat::resident] -= 1; },
                "stat resident = 11, children sum to 10");
  expect_caught([&] { node(t).stat[Stat::faults] = 1; }, [&] { node(t).stat[Stat::faults] = 2; }, "stat faults = 1, children have more: 2");
  expect_caught([&] { node(kRootId).events[Event::high] = 0; }, [&] { node(kRootId).events[Event::high] = 1; },
                "high events 0");
  expect_caught([&] { node(g1).events_local[Event::max] = 1; }, [&] { node(g1).events_local[Event::max] = 0; },
                "events differ");
}

TEST_F(MemcgAudit, LinksAndShape) {
  expect_caught([&] { MemcgTreeTestPeer::remove_child_link(tree, t, g2); },
                [&] { node(t).children.push_back(g2); }, "listed 0 times");
  expect_caught([&] { node(g2).parent = g1; }, [&] { node(g2).parent = t; }, "node 1 (t): child 3 does not point back");
  expect_caught([&] { node(g1).children.push_back(g2); }, [&] { node(g1).children.clear(); }, "a guest with children");
  expect_caught([&] { node(g2).depth = 5; }, [&] { node(g2).depth = 2; }, "depth 5 under depth 1");
  expect_caught([&] { node(g2).name = "g1"; }, [&] { node(g2).name = "g2"; }, "same name");
  expect_caught([&] { node(t).settings.low = kMaxPages + 1; }, [&] { node(t).settings.low = 0; }, "bad low");
  expect_caught([&] { node(kRootId).settings.min = 1; }, [&] { node(kRootId).settings.min = 0; }, "bad min");
}

}  // namespace
}  // namespace tide::gmm::memcg
