// Unit: memory control wired into the memory manager, against the fake host and fake swap
// files. Every test ends with the whole audit (MmTest::TearDown), which checks that each
// guest's memcg usage equals its resident frames and its swap usage its Swapped pages.
#include <gtest/gtest.h>

#include <vector>

#include "../mm_fixture.hpp"

namespace tide::gmm::fake {
namespace {

using memcg::Event;
using memcg::Limit;
using memcg::Stat;

class ReclaimTest : public MmTest {
 protected:
  memcg::MemcgSnapshot snap(GuestMm* g) {
    auto s = mm->memcg().snapshot(g->memcg_id());
    EXPECT_TRUE(s);
    return s ? *s : memcg::MemcgSnapshot{};
  }
  void set(GuestMm* g, Limit l, uint64_t pages) { TIDE_ASSERT_OK(mm->set_memcg_limit(g->memcg_id(), l, pages)); }
  // Writes value v(i) to pages [first, first+count), one touch each; stops at the first
  // touch that does not complete (parked) and returns how many did.
  uint64_t fill(GuestMm* g, uint64_t first, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) {
      if (!touch(*g, Gfn(first + i), value(first + i))) return i;
    }
    return count;
  }
  static uint8_t value(uint64_t i) { return static_cast<uint8_t>(1 + i % 251); }
  // A read of a Swapped page over the max waits (parked) for the reclaimer, like a vCPU.
  Result<uint8_t> read_waiting(GuestMm* g, uint64_t i) {
    auto r = read(*g, Gfn(i));
    for (int tries = 0; tries < 20 && !r; ++tries) {
      mm->reclaim_engine().run_once();
      r = read(*g, Gfn(i));
    }
    return r;
  }
  void expect_values(GuestMm* g, uint64_t first, uint64_t count) {
    for (uint64_t i = first; i < first + count; ++i) {
      auto v = read_waiting(g, i);
      ASSERT_TRUE(v) << "GFN " << i << ": " << v.error().message();
      ASSERT_EQ(*v, value(i)) << "GFN " << i;
    }
  }
};

TEST_F(ReclaimTest, ChargesFollowResidentFramesThroughFaultsAndReleases) {
  make(16 * kMiB);
  GuestMm* g = add("vm1", 8 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(3), 1));  // fault-around: 512 pages charged at once
  EXPECT_EQ(snap(g).current, 512u);
  EXPECT_EQ(g->stats().fault_around, 1u);
  TIDE_ASSERT_OK(check());
  TIDE_ASSERT_OK(g->release_range(Gfn(0), 100, PageState::ballooned));
  EXPECT_EQ(snap(g).current, 412u);
  TIDE_ASSERT_OK(touch(*g, Gfn(5), 2));  // a ballooned page touched again: one page
  EXPECT_EQ(snap(g).current, 413u);
  TIDE_ASSERT_OK(g->release_range(Gfn(200), 20, PageState::reported));
  EXPECT_EQ(snap(g).current, 393u);
  TIDE_ASSERT_OK(check());
  g->sync_memcg_stat();
  const auto s = snap(g);
  EXPECT_EQ(s.stat[Stat::resident], 393u);
  EXPECT_EQ(s.stat[Stat::ballooned], 99u);
  EXPECT_EQ(s.stat[Stat::reported], 20u);
  EXPECT_EQ(s.peak, 512u);
  // The root (the host) carries the same charge.
  EXPECT_EQ(mm->memcg().snapshot(memcg::kRootId)->current, 393u);
}

TEST_F(ReclaimTest, AFaultOverMaxWaitsUntilColdPagesAreSwappedOutAndTheyComeBackIntact) {
  make(16 * kMiB);
  GuestMm* g = add("vm1", 8 * kMiB);
  set(g, Limit::max, 600);
  // 512 by fault-around, then single pages (an extent no longer fits): 88 more fit.
  EXPECT_EQ(fill(g, 0, 1024), 600u);
  EXPECT_EQ(snap(g).current, 600u);
  EXPECT_EQ(g->stats().parked_faults, 1u);  // the page that did not fit
  EXPECT_GE(snap(g).events[Event::max], 1u);
  TIDE_ASSERT_OK(check());
  // The reclaimer swaps the coldest pages out and serves the parked fault.
  mm->reclaim_engine().run_once();
  EXPECT_EQ(g->stats().parked_faults, 0u);
  EXPECT_GT(g->stats().swap_out, 0u);
  EXPECT_LE(snap(g).current, 600u);
  TIDE_ASSERT_OK(check());
  // The oldest pages went first: page 0 is in the swap file, the newest is not.
  EXPECT_EQ(state_of(g, Gfn(0)), PageState::swapped);
  EXPECT_EQ(state_of(g, Gfn(600)), PageState::present);
  // Keep going: the whole 1024 pages are written with at most 600 resident at any time.
  for (uint64_t i = 600; i < 1024;) {
    i += fill(g, i, 1024 - i);
    EXPECT_LE(snap(g).current, 600u);
    mm->reclaim_engine().run_once();
  }
  TIDE_ASSERT_OK(check());
  // Every page reads back what was written, swapped in through the fault path as needed.
  for (uint64_t i = 0; i < 1024; ++i) {
    auto v = read_waiting(g, i);
    ASSERT_TRUE(v) << "GFN " << i << ": " << v.error().message() << " state " << page_state_name(state_of(g, Gfn(i)))
                   << " parked " << g->stats().parked_faults << " current " << snap(g).current;
    ASSERT_EQ(*v, value(i)) << "GFN " << i;
    ASSERT_LE(snap(g).current, 600u);
  }
  EXPECT_GT(g->stats().swap_in, 0u);
  const auto s = snap(g);
  EXPECT_EQ(s.stat[Stat::swap_in], g->stats().swap_in);
  EXPECT_EQ(s.stat[Stat::swap_out], g->stats().swap_out);
  EXPECT_EQ(s.stat[Stat::reclaimed_swap], g->stats().swap_out);
  EXPECT_EQ(s.swap_current, g->stats().swapped_pages);
  EXPECT_LE(s.peak, 600u);
  TIDE_ASSERT_OK(check());
}

TEST_F(ReclaimTest, PagesReferencedInTwoPeriodsStayResidentWhileUsedOncePagesGo) {
  make(16 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  ASSERT_EQ(fill(g, 0, 1024), 1024u);
  // Pages 0-99 were faulted first, so by age alone they would be the first victims. They
  // are used again in two sampling periods (caught by dropped PTEs), so they are promoted.
  for (int period = 0; period < 2; ++period) {
    g->sample_round(1024);
    expect_values(g, 0, 100);
  }
  EXPECT_GE(g->reclaim_info().lru_active, 100u);
  EXPECT_GE(g->stats().sampled_faults, 200u);
  set(g, Limit::max, 700);  // lowering max reclaims synchronously
  EXPECT_LE(snap(g).current, 700u);
  for (uint64_t i = 0; i < 100; ++i) ASSERT_EQ(state_of(g, Gfn(i)), PageState::present) << "hot page " << i;
  EXPECT_GE(g->stats().swap_out, 324u);
  expect_values(g, 0, 1024);
}

TEST_F(ReclaimTest, WhenEveryPageIsHotReclaimStillFindsVictims) {
  make(16 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  ASSERT_EQ(fill(g, 0, 1024), 1024u);
  // Every page referenced in two periods: all active, nothing looks cold.
  for (int period = 0; period < 2; ++period) {
    g->sample_round(1024);
    expect_values(g, 0, 1024);
  }
  ASSERT_EQ(g->reclaim_info().lru_active, 1024u);
  set(g, Limit::max, 400);
  EXPECT_LE(snap(g).current, 400u);
  expect_values(g, 0, 1024);
}

TEST_F(ReclaimTest, LoweringMaxWithoutSwapFailsAndKeepsTheLimit) {
  make(16 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  set(g, Limit::swap_max, 0);
  ASSERT_EQ(fill(g, 0, 1024), 1024u);
  auto st = mm->set_memcg_limit(g->memcg_id(), Limit::max, 512);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, std::errc::device_or_resource_busy) << st.error().message();
  EXPECT_EQ(mm->memcg().settings(g->memcg_id())->max, memcg::kUnlimited);
  EXPECT_EQ(snap(g).current, 1024u);
  EXPECT_EQ(g->stats().swap_out, 0u);
  expect_values(g, 0, 1024);
}

TEST_F(ReclaimTest, TheBalloonIsAskedBeforeAnythingIsSwapped) {
  make(16 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  ASSERT_EQ(fill(g, 0, 1024), 1024u);
  // The "guest" gives its highest pages to the balloon at once when asked.
  uint64_t next = 1024, asked_total = 0;
  reclaim::GuestHooks hooks;
  hooks.balloon_reclaim = [&](uint64_t pages) -> uint64_t {
    const uint64_t give = std::min<uint64_t>(pages, next - 512);
    next -= give;
    asked_total += give;
    EXPECT_TRUE(g->release_range(Gfn(next), give, PageState::ballooned));
    return give;
  };
  g->set_hooks(hooks);
  set(g, Limit::max, 800);
  EXPECT_LE(snap(g).current, 800u);
  EXPECT_GT(asked_total, 0u);
  EXPECT_EQ(g->stats().swap_out, 0u);
  EXPECT_GE(snap(g).stat[Stat::reclaimed_balloon], 224u);
  expect_values(g, 0, next);
  g->set_hooks({});
}

TEST_F(ReclaimTest, StallPolicyWaitsOnceThenGoesOnWhenTheLimitIsRaised) {
  make(16 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  set(g, Limit::swap_max, 0);
  set(g, Limit::max, 520);
  EXPECT_EQ(fill(g, 0, 1024), 520u);
  mm->reclaim_engine().run_once();
  mm->reclaim_engine().run_once();
  EXPECT_TRUE(g->reclaim_info().stalled);
  EXPECT_EQ(snap(g).events[Event::oom], 1u);  // once per episode
  EXPECT_EQ(g->stats().parked_faults, 1u);
  set(g, Limit::max, 2048);
  mm->reclaim_engine().run_once();
  EXPECT_FALSE(g->reclaim_info().stalled);
  EXPECT_EQ(g->stats().parked_faults, 0u);
  EXPECT_EQ(fill(g, 520, 504), 504u);
  expect_values(g, 0, 1024);
}

TEST_F(ReclaimTest, StopPolicyPicksTheGuestOnceAndLeavesTheOthers) {
  make(16 * kMiB);
  GuestMm* a = add("a", 4 * kMiB);
  GuestMm* b = add("b", 4 * kMiB);
  set(a, Limit::swap_max, 0);
  set(a, Limit::max, 520);
  a->set_oom_policy(reclaim::OomPolicy::stop);
  int stops = 0;
  reclaim::GuestHooks hooks;
  hooks.oom_stop = [&](const std::string& reason) {
    ++stops;
    EXPECT_NE(reason.find("policy stop"), std::string::npos) << reason;
  };
  a->set_hooks(hooks);
  ASSERT_EQ(fill(b, 0, 600), 600u);
  EXPECT_EQ(fill(a, 0, 1024), 520u);
  mm->reclaim_engine().run_once();
  mm->reclaim_engine().run_once();
  EXPECT_EQ(stops, 1);
  EXPECT_TRUE(a->dying());
  EXPECT_EQ(snap(a).events[Event::oom_kill], 1u);
  EXPECT_EQ(snap(b).events[Event::oom_kill], 0u);
  // The other guest goes on; the stopped one's frames go back when it is removed.
  EXPECT_EQ(fill(b, 600, 424), 424u);
  a->set_hooks({});
  remove(a);
  EXPECT_EQ(mm->memcg().snapshot(memcg::kRootId)->current, 1024u);
  expect_values(b, 0, 1024);
}

TEST_F(ReclaimTest, ReleasingSwappedPagesFreesTheirSlotsAndSwapCharge) {
  make(16 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  ASSERT_EQ(fill(g, 0, 1024), 1024u);
  set(g, Limit::max, 512);
  const uint64_t swapped = g->stats().swapped_pages;
  ASSERT_GE(swapped, 512u);
  EXPECT_EQ(snap(g).swap_current, swapped);
  // The guest balloons pages that were swapped out: their data is not wanted any more.
  TIDE_ASSERT_OK(g->release_range(Gfn(0), 100, PageState::ballooned));
  EXPECT_EQ(g->stats().swapped_pages, swapped - 100);
  EXPECT_EQ(snap(g).swap_current, swapped - 100);
  TIDE_ASSERT_OK(check());
  // And a deflate (only frameless pages) leaves swapped pages alone.
  auto r = g->release_range(Gfn(100), 10, PageState::empty, ReleaseOptions{.only_frameless = true});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kept, 10u);
  expect_values(g, 100, 924);
}

TEST_F(ReclaimTest, OverHighTheFaultIsHeldUntilTheReclaimerHasRun) {
  make(16 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  set(g, Limit::high, 600);
  ASSERT_EQ(fill(g, 0, 700), 700u);  // high throttles, it does not refuse
  EXPECT_GT(g->stats().throttled_faults, 0u);
  EXPECT_GT(snap(g).events[Event::high], 0u);
  mm->reclaim_engine().run_once();
  EXPECT_LE(snap(g).current, 600u);
  expect_values(g, 0, 700);
}

TEST_F(ReclaimTest, PoolPressureTakesFromTheUnprotectedGuest) {
  make(4 * kMiB);  // 1024 frames for two guests of 1024 pages each
  GuestMm* a = add("a", 4 * kMiB);
  GuestMm* b = add("b", 4 * kMiB);
  set(a, Limit::min, 1024);  // a is fully protected
  ASSERT_EQ(fill(a, 0, 512), 512u);
  ASSERT_EQ(fill(b, 0, 512), 512u);
  // The pool is full: a's next fault waits at the root (the host's budget).
  EXPECT_EQ(fill(a, 512, 100), 0u);
  EXPECT_EQ(a->parked_on(), memcg::kRootId);
  mm->reclaim_engine().run_once();
  EXPECT_EQ(a->stats().parked_faults, 0u);
  EXPECT_EQ(a->stats().swap_out, 0u);
  EXPECT_GT(b->stats().swap_out, 0u);
  EXPECT_EQ(fill(a, 512, 100), 100u);
  expect_values(a, 0, 612);
  expect_values(b, 0, 512);
}

}  // namespace
}  // namespace tide::gmm::fake
