// Unit: the balloon's part in memory-cgroup reclaim — the pure sizing rule (what the
// statistics say the guest can give, less the reserve, less what is already asked; no
// driver, no or stale statistics: nothing; the balloon policy's floor and cap), the
// available figure (AVAIL, else MEMFREE + CACHES), and BalloonController's hook over a
// device driven by a fake driver: it raises the target, counts the pages in the device's
// counters, never asks twice against the same statistics, has stale statistics refreshed by
// the controller's own thread, and leaves auto mode alone.
#include <gtest/gtest.h>

#include <memory>

#include "unit/balloon/balloon_harness.hpp"
#include "unit/guestmm/mm_fixture.hpp"
#include "vmm/machine/balloon_controller.hpp"
#include "vmm/machine/balloon_reclaim.hpp"

namespace tide::vmm {
namespace {

using balloon::test::BalloonHarness;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kSecond = uint64_t{1000} * 1000 * 1000;

constexpr uint64_t pages(uint64_t bytes) { return bytes / kPage; }

// A 1 GiB guest with an empty balloon whose fresh statistics say `available` bytes.
BalloonReclaimInput guest_with(uint64_t available, uint64_t wanted = pages(1024 * kMiB)) {
  BalloonReclaimInput in;
  in.wanted_pages = wanted;
  in.active = true;
  in.ram_pages = pages(1024 * kMiB);
  in.available_bytes = available;
  in.stats_age_ns = kSecond;
  return in;
}

TEST(BalloonReclaimRule, AsksWhatTheStatisticsLeaveAboveTheReserve) {
  // 300 MiB available, 16 MiB kept for the guest.
  EXPECT_EQ(balloon_reclaim_pages(guest_with(300 * kMiB)), pages(284 * kMiB));
  // Never more than wanted.
  EXPECT_EQ(balloon_reclaim_pages(guest_with(300 * kMiB, 100)), 100u);
  // The reserve is the caller's to choose.
  BalloonReclaimInput in = guest_with(300 * kMiB);
  in.reserve_bytes = 100 * kMiB;
  EXPECT_EQ(balloon_reclaim_pages(in), pages(200 * kMiB));
  // Partial pages of the figure do not count; a partial page of reserve does.
  in = guest_with(20 * kMiB + 4095);
  in.reserve_bytes = 4 * kMiB + 1;
  EXPECT_EQ(balloon_reclaim_pages(in), pages(16 * kMiB) - 1);
  // Under the reserve: nothing.
  EXPECT_EQ(balloon_reclaim_pages(guest_with(16 * kMiB)), 0u);
  EXPECT_EQ(balloon_reclaim_pages(guest_with(1 * kMiB)), 0u);
}

TEST(BalloonReclaimRule, WhatIsAskedAndNotDeliveredIsTakenOff) {
  // The target is 100 MiB above what the driver holds: those are on their way already.
  BalloonReclaimInput in = guest_with(300 * kMiB);
  in.target_pages = pages(164 * kMiB);
  in.actual_pages = pages(64 * kMiB);
  EXPECT_EQ(balloon_reclaim_pages(in), pages(184 * kMiB));
  // Asked since these statistics and already delivered: the figure does not show it yet.
  in.asked_since_stats_pages = pages(250 * kMiB);
  EXPECT_EQ(balloon_reclaim_pages(in), pages(34 * kMiB));
  in.asked_since_stats_pages = pages(300 * kMiB);
  EXPECT_EQ(balloon_reclaim_pages(in), 0u);
  // A driver ahead of its target (it inflated on its own) leaves nothing outstanding.
  in = guest_with(300 * kMiB);
  in.target_pages = pages(10 * kMiB);
  in.actual_pages = pages(20 * kMiB);
  EXPECT_EQ(balloon_reclaim_pages(in), pages(284 * kMiB));
}

TEST(BalloonReclaimRule, NoDriverNoStatisticsOrStaleOnesAskNothing) {
  BalloonReclaimInput in = guest_with(300 * kMiB);
  in.active = false;
  EXPECT_EQ(balloon_reclaim_pages(in), 0u);
  in = guest_with(300 * kMiB);
  in.available_bytes.reset();
  EXPECT_EQ(balloon_reclaim_pages(in), 0u);
  in = guest_with(300 * kMiB);
  in.stats_age_ns = in.max_stats_age_ns + 1;
  EXPECT_EQ(balloon_reclaim_pages(in), 0u);
  in.stats_age_ns = in.max_stats_age_ns;
  EXPECT_GT(balloon_reclaim_pages(in), 0u);
  EXPECT_EQ(balloon_reclaim_pages(guest_with(300 * kMiB, 0)), 0u);
}

TEST(BalloonReclaimRule, ThePolicysFloorAndCapHold) {
  BalloonReclaimInput in = guest_with(900 * kMiB);
  in.target_pages = pages(100 * kMiB);
  in.actual_pages = in.target_pages;
  in.limits.min_guest_bytes = 512 * kMiB;  // the balloon may reach 512 MiB
  EXPECT_EQ(balloon_reclaim_pages(in), pages(412 * kMiB));
  in.limits.min_guest_bytes = 0;
  in.limits.max_balloon_bytes = 150 * kMiB;
  EXPECT_EQ(balloon_reclaim_pages(in), pages(50 * kMiB));
  in.limits.max_balloon_bytes = 50 * kMiB;  // already beyond it
  EXPECT_EQ(balloon_reclaim_pages(in), 0u);
}

TEST(BalloonReclaimRule, AvailableIsAvailElseFreePlusCaches) {
  balloon::GuestStats s;
  EXPECT_FALSE(reclaimable_bytes(s));
  s.set(balloon::VIRTIO_BALLOON_S_CACHES, 30 * kMiB);
  EXPECT_FALSE(reclaimable_bytes(s)) << "caches alone say nothing of free memory";
  s.set(balloon::VIRTIO_BALLOON_S_MEMFREE, 100 * kMiB);
  EXPECT_EQ(reclaimable_bytes(s), 130 * kMiB);
  s.set(balloon::VIRTIO_BALLOON_S_AVAIL, 110 * kMiB);
  EXPECT_EQ(reclaimable_bytes(s), 110 * kMiB);  // AVAIL already counts the cache
  balloon::GuestStats free_only;
  free_only.set(balloon::VIRTIO_BALLOON_S_MEMFREE, 7 * kMiB);
  EXPECT_EQ(reclaimable_bytes(free_only), 7 * kMiB);
}

// ---- BalloonController::reclaim_for_pressure over a device and a fake driver.

class BalloonPressureTest : public gmm::fake::MmTest {
 protected:
  void SetUp() override {
    make(16 * kMiB);
    ASSERT_NE(mm, nullptr);
    TIDE_ASSERT_OK(h.activate());
    BalloonControllerOptions o;
    o.pressure_reserve_bytes = 4 * kMiB;
    ctl = std::make_unique<BalloonController>(*h.device, *mm, o);
  }
  void TearDown() override {
    ctl.reset();
    MmTest::TearDown();
  }
  // A fresh stats buffer: MEMFREE = `free`, CACHES = `caches` (no AVAIL).
  void driver_sends(uint64_t free, uint64_t caches) {
    (void)h.device->request_stats();
    h.send_stats({{balloon::VIRTIO_BALLOON_S_MEMFREE, free}, {balloon::VIRTIO_BALLOON_S_CACHES, caches}});
    ASSERT_TRUE(h.device->status().stats);
  }
  void driver_inflates(uint64_t from_page, uint64_t n) {
    h.inflate(BalloonHarness::pfn_range(static_cast<uint32_t>(from_page), static_cast<uint32_t>(n)));
    h.write_actual(static_cast<uint32_t>(h.device->balloon_pages()));
  }

  BalloonHarness h;
  std::unique_ptr<BalloonController> ctl;
};

TEST_F(BalloonPressureTest, NoStatisticsAskNothing) {
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(8 * kMiB)), 0u);
  EXPECT_EQ(h.device->target_pages(), 0u);
  EXPECT_EQ(h.device->counters().pressure_asked_pages, 0u);
}

TEST_F(BalloonPressureTest, RaisesTheTargetAsFarAsTheStatisticsSayAndCountsIt) {
  driver_sends(10 * kMiB, 2 * kMiB);  // 12 MiB could go, 4 MiB stay: 8 MiB
  const int notes = h.irq.config_notes();
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(20 * kMiB)), pages(8 * kMiB));
  EXPECT_EQ(h.device->target_pages(), pages(8 * kMiB));
  EXPECT_GT(h.irq.config_notes(), notes) << "the driver is told of the new target";
  EXPECT_EQ(h.device->counters().pressure_asked_pages, pages(8 * kMiB));
  // Against the same statistics, nothing more: it was all asked already.
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(20 * kMiB)), 0u);
  // ... even once the driver delivered (the figure still shows the pages as free).
  driver_inflates(pages(8 * kMiB), pages(8 * kMiB));
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(20 * kMiB)), 0u);
  EXPECT_EQ(h.device->target_pages(), pages(8 * kMiB));
  // Fresh statistics after the inflate: 6 MiB free now, 2 MiB may go.
  driver_sends(6 * kMiB, 0);
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(1 * kMiB)), pages(1 * kMiB));
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(20 * kMiB)), pages(1 * kMiB));
  EXPECT_EQ(h.device->target_pages(), pages(10 * kMiB));
  EXPECT_EQ(h.device->counters().pressure_asked_pages, pages(10 * kMiB));
  TIDE_EXPECT_OK(h.device->check_invariants());
}

TEST_F(BalloonPressureTest, StaleStatisticsAskNothingAndAreRefreshedByTheControllersThread) {
  driver_sends(20 * kMiB, 0);
  h.now_ns += 11 * kSecond;  // older than the 10 s the controller accepts
  const uint64_t requests = h.device->counters().stats_requests;
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(8 * kMiB)), 0u);
  EXPECT_EQ(h.device->target_pages(), 0u);
  // The reclaim thread never writes a virtqueue (guest memory it might fault on while the
  // guest is at its limit): the controller's thread returns the held buffer, although this
  // controller has no stats period. Wait for it before the fake driver answers (the fake
  // is not thread-safe).
  EXPECT_TRUE(h.device->wait_until([&](const balloon::BalloonStatus& s) { return s.counters.stats_requests > requests; },
                                   60 * kSecond));
  h.send_stats({{balloon::VIRTIO_BALLOON_S_MEMFREE, 20 * kMiB}});
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(8 * kMiB)), pages(8 * kMiB));
}

TEST_F(BalloonPressureTest, LeavesAutoModeAsItIsAndHonoursItsFloor) {
  // The statistics first: once auto mode runs, its thread may use the device too, and the
  // fake driver is not thread-safe.
  driver_sends(16 * kMiB, 0);
  BalloonAutoOptions a;
  a.limits.min_guest_bytes = 20 * kMiB;  // of 24 MiB: the balloon may reach 4 MiB
  a.params.free_margin_bytes = 64 * kMiB;  // auto mode itself would not inflate
  ctl->set_auto(a);
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(16 * kMiB)), pages(4 * kMiB));
  EXPECT_TRUE(ctl->auto_status().enabled);
  ctl->set_auto(std::nullopt);
  // Without auto mode its floor is gone: 16 - 4 reserved - 4 asked = 8 MiB more.
  EXPECT_EQ(ctl->reclaim_for_pressure(pages(16 * kMiB)), pages(8 * kMiB));
  EXPECT_FALSE(ctl->auto_status().enabled);
}

}  // namespace
}  // namespace tide::vmm
