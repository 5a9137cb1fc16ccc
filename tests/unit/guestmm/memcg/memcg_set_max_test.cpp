// Unit: limits that move — lowering max below usage with a reclaimer that succeeds, needs
// several rounds, partly succeeds or fails (the old limit stays), the lower max in force
// while it reclaims, and the "limit raised" listeners (a throttled faulter woken).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "memcg_test_util.hpp"

namespace tide::gmm::memcg {
namespace {

using test::current;
using test::FakeReclaimer;
using test::must;

class MemcgSetMax : public ::testing::Test {
 protected:
  MemcgSetMax() {
    t = must(tree.create_group(kRootId, "t"));
    g = must(tree.create_guest(t, "g"));
    EXPECT_TRUE(tree.set_limit(g, Limit::max, 200));
    auto r = tree.try_charge(g, 100);
    EXPECT_TRUE(r && r->charged);
    listener = tree.limit_listeners().add([this](const LimitRaise& raise) {
      std::lock_guard l(mu);
      raises.push_back(raise);
    });
  }
  ~MemcgSetMax() override { tree.limit_listeners().remove(listener); }
  uint64_t max_of(MemcgId id) { return tree.settings(id).value().max; }

  MemcgTree tree;
  MemcgId t, g;
  std::mutex mu;
  std::vector<LimitRaise> raises;
  LimitListeners::Handle listener = 0;
};

TEST_F(MemcgSetMax, ReclaimerThatSucceedsAtOnce) {
  FakeReclaimer r(tree, g, {40});
  ASSERT_OK(tree.set_max(g, 60, r));
  ASSERT_EQ(r.asked.size(), 1u);
  EXPECT_EQ(r.asked[0].first, g);
  EXPECT_EQ(r.asked[0].second, 40u);  // exactly the excess
  EXPECT_EQ(max_of(g), 60u);
  EXPECT_EQ(current(tree, g), 60u);
  EXPECT_TRUE(raises.empty());  // lowering wakes no one
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgSetMax, ReclaimerThatNeedsSeveralRounds) {
  FakeReclaimer r(tree, g, {10, 10, 10, 10});
  ASSERT_OK(tree.set_max(g, 60, r));
  ASSERT_EQ(r.asked.size(), 4u);
  EXPECT_EQ(r.asked[1].second, 30u);  // each round asks for what is still over
  EXPECT_EQ(r.asked[3].second, 10u);
  EXPECT_EQ(max_of(g), 60u);
  EXPECT_EQ(current(tree, g), 60u);
}

TEST_F(MemcgSetMax, ReclaimerThatPartlySucceedsLeavesTheOldLimit) {
  FakeReclaimer r(tree, g, {5, 5, 5, 5, 5, 5, 5, 5});
  auto st = tree.set_max(g, 60, r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, std::make_error_code(std::errc::device_or_resource_busy));
  EXPECT_EQ(r.asked.size(), kSetMaxReclaimRounds);  // bounded
  EXPECT_EQ(max_of(g), 200u);                        // unchanged
  EXPECT_EQ(current(tree, g), 75u);                  // what was freed stays freed
  const std::string m = st.error().message();
  EXPECT_NE(m.find("/t/g"), std::string::npos) << m;
  EXPECT_NE(m.find("75 pages"), std::string::npos) << m;
  EXPECT_NE(m.find("5 reclaim rounds"), std::string::npos) << m;
  EXPECT_NE(m.find("max stays 200 pages"), std::string::npos) << m;
  // The lower max was in force while reclaiming; putting the old one back is a raise.
  ASSERT_EQ(raises.size(), 1u);
  EXPECT_EQ(raises[0].node, g);
  EXPECT_EQ(raises[0].limit, Limit::max);
  EXPECT_EQ(raises[0].old_pages, 60u);
  EXPECT_EQ(raises[0].new_pages, 200u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgSetMax, ReclaimerThatFailsStopsAtOnce) {
  FakeReclaimer r(tree, g, {});
  auto st = tree.set_max(g, 60, r);
  ASSERT_FALSE(st);
  EXPECT_EQ(r.asked.size(), 1u);  // no progress: no point asking again
  EXPECT_EQ(max_of(g), 200u);
  EXPECT_EQ(current(tree, g), 100u);
  EXPECT_NE(st.error().message().find("1 reclaim round "), std::string::npos) << st.error().message();
}

TEST_F(MemcgSetMax, TheLowerMaxIsInForceWhileReclaiming) {
  FakeReclaimer r(tree, g, {10, 10});
  std::vector<bool> charged;
  std::vector<uint64_t> max_seen;
  r.during = [&] {
    max_seen.push_back(max_of(g));
    auto c = tree.try_charge(g, 1);  // a fault meanwhile: refused, current is above 60
    charged.push_back(c && c->charged);
  };
  EXPECT_FALSE(tree.set_max(g, 60, r));
  EXPECT_EQ(max_seen, (std::vector<uint64_t>{60, 60, 60}));
  EXPECT_EQ(charged, (std::vector<bool>{false, false, false}));
  EXPECT_EQ(max_of(g), 200u);
}

TEST_F(MemcgSetMax, WithoutAReclaimerLoweringBelowUsageIsRefused) {
  EXPECT_ERRC(tree.set_limit(g, Limit::max, 99), std::errc::device_or_resource_busy);
  EXPECT_EQ(max_of(g), 200u);
  ASSERT_OK(tree.set_limit(g, Limit::max, 100));  // at usage: fine
  EXPECT_EQ(max_of(g), 100u);
  auto r = tree.try_charge(g, 1);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->charged);
}

TEST_F(MemcgSetMax, AGroupsMaxReclaimsUnderTheGroup) {
  FakeReclaimer r(tree, g, {30});
  ASSERT_OK(tree.set_max(t, 70, r));
  ASSERT_EQ(r.asked.size(), 1u);
  EXPECT_EQ(r.asked[0].first, t);
  EXPECT_EQ(r.asked[0].second, 30u);
  EXPECT_EQ(max_of(t), 70u);
  EXPECT_EQ(current(tree, t), 70u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgSetMax, RaisingANodeAlreadyAboveItsMaxNeedsNoReclaim) {
  ASSERT_OK(tree.set_limit(g, Limit::max, 100));
  auto f = tree.charge_force(g, 50);  // 150 > 100
  ASSERT_TRUE(f && f->charged);
  FakeReclaimer r(tree, g, {});
  ASSERT_OK(tree.set_max(g, 120, r));  // still below usage, but higher than before
  EXPECT_TRUE(r.asked.empty());
  EXPECT_EQ(max_of(g), 120u);
}

TEST_F(MemcgSetMax, RaisingALimitNotifiesListeners) {
  ASSERT_OK(tree.set_limit(g, Limit::max, 300));
  ASSERT_OK(tree.set_limit(g, Limit::max, 300));  // unchanged: no raise
  ASSERT_OK(tree.set_limit(g, Limit::high, 50));  // from "max": lowering
  ASSERT_OK(tree.set_limit(g, Limit::high, 80));
  ASSERT_OK(tree.set_limit(t, Limit::swap_max, 10));
  ASSERT_OK(tree.set_limit(t, Limit::swap_max, 20));
  ASSERT_OK(tree.set_limit(g, Limit::low, 30));  // protection is not room
  ASSERT_OK(tree.set_limit(g, Limit::min, 30));
  ASSERT_EQ(raises.size(), 3u);
  EXPECT_EQ(raises[0].limit, Limit::max);
  EXPECT_EQ(raises[0].old_pages, 200u);
  EXPECT_EQ(raises[0].new_pages, 300u);
  EXPECT_EQ(raises[1].limit, Limit::high);
  EXPECT_EQ(raises[1].new_pages, 80u);
  EXPECT_EQ(raises[2].node, t);
  EXPECT_EQ(raises[2].limit, Limit::swap_max);
  EXPECT_EQ(raises[2].old_pages, 10u);
}

TEST_F(MemcgSetMax, RemovedListenersAreNotCalledAndMayReadTheTree) {
  int calls = 0;
  uint64_t seen_max = 0;
  auto h = tree.limit_listeners().add([&](const LimitRaise& r) {
    ++calls;
    seen_max = tree.settings(r.node).value().max;  // no tree lock is held
  });
  ASSERT_OK(tree.set_limit(g, Limit::max, 250));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen_max, 250u);
  EXPECT_TRUE(tree.limit_listeners().remove(h));
  EXPECT_FALSE(tree.limit_listeners().remove(h));
  ASSERT_OK(tree.set_limit(g, Limit::max, 260));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(tree.limit_listeners().size(), 1u);  // the fixture's
}

// A faulter refused at max waits for a raise; the control plane raises; it charges.
TEST_F(MemcgSetMax, AThrottledFaulterIsWokenByARaise) {
  ASSERT_OK(tree.set_limit(g, Limit::max, 100));
  std::mutex m;
  std::condition_variable cv;
  uint64_t generation = 0;
  auto h = tree.limit_listeners().add([&](const LimitRaise&) {
    std::lock_guard l(m);
    ++generation;
    cv.notify_all();
  });
  std::atomic<bool> waiting{false};
  std::atomic<bool> charged{false};
  std::thread faulter([&] {
    for (;;) {
      uint64_t seen;
      {
        std::lock_guard l(m);
        seen = generation;
      }
      auto r = tree.try_charge(g, 10);
      if (r && r->charged) break;
      waiting = true;
      std::unique_lock l(m);
      if (!cv.wait_for(l, std::chrono::seconds(10), [&] { return generation != seen; })) return;  // test fails below
    }
    charged = true;
  });
  while (!waiting) std::this_thread::yield();
  EXPECT_FALSE(charged);
  ASSERT_OK(tree.set_limit(g, Limit::max, 110));
  faulter.join();
  EXPECT_TRUE(charged);
  EXPECT_EQ(current(tree, g), 110u);
  tree.limit_listeners().remove(h);
}

}  // namespace
}  // namespace tide::gmm::memcg
