// Unit: BalloonDevice driven by a fake driver (rings in fake guest memory, no PCI):
// features and queues, config space, inflate/deflate with their classification
// (requested, migrated, OOM, unrequested), free page reporting, the stats buffer protocol,
// reset, the observer and wait_until. Every test ends with check_invariants().
#include "balloon/balloon_device.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "unit/balloon/balloon_harness.hpp"

namespace tide::balloon {
namespace {

using test::BalloonHarness;
using test::HarnessOptions;
using test::kAllFeatures;
using test::kDeflateOnOom;
using test::kMustTellHost;
using test::kPage;
using test::kReporting;
using test::kStatsVq;

class BalloonDeviceTest : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_TRUE(h.device->check_invariants()) << h.device->check_invariants().error().message();
    EXPECT_TRUE(h.backend.violations.empty()) << h.backend.violations.front();
  }
  // Inflates [first, first+n) in requests of at most 256 PFNs, as Linux does.
  void fill(uint32_t first, uint32_t n) {
    for (uint32_t done = 0; done < n; done += 256) h.inflate(BalloonHarness::pfn_range(first + done, std::min(256u, n - done)));
  }
  BalloonHarness h;
};

// --- Identity, features, queues ----------------------------------------------------------

TEST_F(BalloonDeviceTest, OffersTheConfiguredFeaturesAndQueues) {
  EXPECT_EQ(h.device->device_type(), 5u);
  EXPECT_EQ(h.device->device_features(), kAllFeatures);
  EXPECT_EQ(h.device->num_queues(), 4);
  EXPECT_EQ(h.device->queue_max_size(0), 256);
  EXPECT_EQ(h.device->config_size(), 16u);

  HarnessOptions o;
  o.features = BalloonFeatures{false, false, false, false};
  BalloonHarness bare(o);
  EXPECT_EQ(bare.device->device_features(), 0u);
  EXPECT_EQ(bare.device->num_queues(), 2);
  o.features = BalloonFeatures{true, false, false, true};
  BalloonHarness no_stats(o);
  EXPECT_EQ(no_stats.device->device_features(), kMustTellHost | kReporting);
  EXPECT_EQ(no_stats.device->num_queues(), 3);
  EXPECT_EQ(BalloonFeatures{}.bits(), kMustTellHost | kStatsVq | kReporting) << "defaults: no deflate-on-OOM";
}

TEST_F(BalloonDeviceTest, ActivationNeedsMemoryAndInterrupt) {
  dev::VirtioActivation a;
  EXPECT_FALSE(h.device->activate(a));
  a.memory = &h.mem.memory();
  a.interrupt = &h.irq;
  EXPECT_FALSE(h.device->activate(a)) << "no queues at all";
  a.queues = {h.queues[0].get(), nullptr};
  EXPECT_FALSE(h.device->activate(a)) << "no deflateq";
  EXPECT_FALSE(h.device->status().active);
  ASSERT_TRUE(h.activate());
  BalloonStatus st = h.device->status();
  EXPECT_TRUE(st.active);
  EXPECT_EQ(st.negotiated_features, kAllFeatures);
  EXPECT_EQ(st.ram_pages, BalloonHarness::kLowPages + BalloonHarness::kHighPages);
}

TEST_F(BalloonDeviceTest, NegotiatedFeaturesAreMaskedToTheOffer) {
  HarnessOptions o;
  o.features = BalloonFeatures{true, true, false, true};
  BalloonHarness g(o);
  ASSERT_TRUE(g.activate(kAllFeatures | (uint64_t{1} << 32)));
  EXPECT_EQ(g.device->status().negotiated_features, kMustTellHost | kStatsVq | kReporting);
}

TEST_F(BalloonDeviceTest, NotificationsBeforeActivationAreIgnored) {
  h.negotiated = kAllFeatures;
  h.rings[0].configure(*h.queues[0]);
  h.inflate({1, 2, 3});
  EXPECT_EQ(h.used_count(QueueRole::kInflate), 0);
  EXPECT_EQ(h.device->balloon_pages(), 0u);
  // DRIVER_OK: the transport kicks every enabled queue; the request is served then.
  ASSERT_TRUE(h.activate());
  h.device->queue_notified(0);
  EXPECT_EQ(h.used_count(QueueRole::kInflate), 1);
  EXPECT_EQ(h.device->balloon_pages(), 3u);
}

// --- Config space -------------------------------------------------------------------------

TEST_F(BalloonDeviceTest, ConfigReadsAreLittleEndianBytesAtAnyOffset) {
  h.device->set_target_pages(0x01020304);  // clamped to RAM: 6144 = 0x1800
  EXPECT_EQ(h.device->target_pages(), 0x1800u);
  h.write_actual(0xa1b2c3d4);
  EXPECT_EQ(h.read_config32(kConfigNumPages), 0x1800u);
  EXPECT_EQ(h.read_config32(kConfigActual), 0xa1b2c3d4u);
  EXPECT_EQ(h.read_config32(kConfigFreePageHintCmdId), 0u);
  EXPECT_EQ(h.read_config32(kConfigPoisonVal), 0u);
  uint8_t one[1];
  h.device->read_config(1, one);
  EXPECT_EQ(one[0], 0x18);
  uint8_t two[2];
  h.device->read_config(3, two);  // last byte of num_pages, first of actual
  EXPECT_EQ(two[0], 0x00);
  EXPECT_EQ(two[1], 0xd4);
  uint8_t eight[8];
  h.device->read_config(0, eight);
  EXPECT_EQ(eight[4], 0xd4);
  EXPECT_EQ(eight[7], 0xa1);
  uint8_t past[4] = {9, 9, 9, 9};
  h.device->read_config(14, past);  // runs off the end: zeroes
  EXPECT_EQ(past[0], 0);
  EXPECT_EQ(past[3], 0);
}

TEST_F(BalloonDeviceTest, ActualTakesPartialWrites) {
  h.write_actual(0x11223344);
  const uint8_t byte = 0x99;
  h.device->write_config(kConfigActual + 2, std::span(&byte, 1));
  EXPECT_EQ(h.device->actual_pages(), 0x11993344u);
  const uint8_t half[2] = {0x01, 0x02};
  h.device->write_config(kConfigActual, half);
  EXPECT_EQ(h.device->actual_pages(), 0x11990201u);
  EXPECT_EQ(h.fault(BalloonFault::kConfigReadOnlyWrite), 0u);
}

TEST_F(BalloonDeviceTest, ReadOnlyFieldsIgnoreWritesAndCountThem) {
  h.device->set_target_pages(100);
  const uint8_t four[4] = {1, 2, 3, 4};
  h.device->write_config(kConfigNumPages, four);
  EXPECT_EQ(h.device->target_pages(), 100u);
  EXPECT_EQ(h.fault(BalloonFault::kConfigReadOnlyWrite), 1u);
  h.device->write_config(kConfigPoisonVal, four);
  h.device->write_config(kConfigFreePageHintCmdId + 3, std::span(four, 1));
  EXPECT_EQ(h.fault(BalloonFault::kConfigReadOnlyWrite), 3u);
  // A write across num_pages and actual: the actual half lands, the rest is counted.
  const uint8_t eight[8] = {0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0};
  h.device->write_config(kConfigNumPages, eight);
  EXPECT_EQ(h.device->actual_pages(), 7u);
  EXPECT_EQ(h.device->target_pages(), 100u);
  EXPECT_EQ(h.fault(BalloonFault::kConfigReadOnlyWrite), 4u);
  EXPECT_EQ(h.read_config32(kConfigPoisonVal), 0u);
}

TEST_F(BalloonDeviceTest, SetTargetClampsAndInterruptsOnlyWhenActiveAndChanged) {
  EXPECT_EQ(h.device->set_target_pages(10), 10u);
  EXPECT_EQ(h.irq.config_notes(), 0) << "not active yet";
  ASSERT_TRUE(h.activate());
  EXPECT_EQ(h.device->set_target_pages(20), 20u);
  EXPECT_EQ(h.irq.config_notes(), 1);
  EXPECT_EQ(h.device->set_target_pages(20), 20u);
  EXPECT_EQ(h.irq.config_notes(), 1) << "unchanged: no interrupt";
  EXPECT_EQ(h.device->set_target_pages(UINT64_MAX), 6144u);
  EXPECT_EQ(h.irq.config_notes(), 2);
  EXPECT_EQ(h.read_config32(kConfigNumPages), 6144u);
}

// --- Inflate and deflate ------------------------------------------------------------------

TEST_F(BalloonDeviceTest, InflateAndDeflateMoveExactlyTheListedPages) {
  ASSERT_TRUE(h.activate());
  h.device->set_target_pages(300);
  fill(100, 300);
  EXPECT_EQ(h.used_count(QueueRole::kInflate), 2);
  EXPECT_EQ(h.used(QueueRole::kInflate, 0).len, 0u) << "the device writes nothing";
  EXPECT_EQ(h.device->balloon_pages(), 300u);
  EXPECT_EQ(h.backend.ballooned.size(), 300u);
  EXPECT_EQ(*h.backend.ballooned.begin(), 100u);
  ASSERT_EQ(h.backend.inflates.size(), 2u);
  EXPECT_EQ(h.backend.inflates[0].gfns.size(), 256u);
  EXPECT_TRUE(h.backend.inflates[0].guest_keeps_off) << "MUST_TELL_HOST negotiated";
  EXPECT_GE(h.irq.queue_notes(h.index_of(QueueRole::kInflate)), 1);

  h.device->set_target_pages(100);
  h.deflate(BalloonHarness::pfn_range(100, 200));
  EXPECT_EQ(h.device->balloon_pages(), 100u);
  EXPECT_EQ(h.backend.ballooned.size(), 100u);
  EXPECT_EQ(*h.backend.ballooned.begin(), 300u);
  EXPECT_EQ(h.used_count(QueueRole::kDeflate), 1);

  BalloonCounters c = h.counters();
  EXPECT_EQ(c.inflated_pages, 300u);
  EXPECT_EQ(c.deflated_pages, 200u);
  EXPECT_EQ(c.inflate_requests, 2u);
  EXPECT_EQ(c.deflate_requests, 1u);
  EXPECT_EQ(c.unrequested_inflated_pages, 0u);
  EXPECT_EQ(c.migrated_pages + c.oom_deflated_pages + c.unrequested_deflated_pages, 0u) << "all requested";
  EXPECT_EQ(c.frames_released, 300u);
  EXPECT_EQ(c.host_bytes_released, 300u * kPage);
  EXPECT_EQ(c.total_faults(), 0u);
}

TEST_F(BalloonDeviceTest, HighRamPagesAboveTheHoleAreRam) {
  ASSERT_TRUE(h.activate());
  const auto high = static_cast<uint32_t>(BalloonHarness::kHighRamGfn);
  h.inflate({high, high + 1, static_cast<uint32_t>(high + BalloonHarness::kHighPages - 1)});
  EXPECT_EQ(h.device->balloon_pages(), 3u);
  h.deflate({high + 1});
  EXPECT_EQ(h.device->balloon_pages(), 2u);
  EXPECT_EQ(h.fault(BalloonFault::kPfnOutsideRam), 0u);
}

TEST_F(BalloonDeviceTest, WithoutMustTellHostTheBackendIsToldSo) {
  ASSERT_TRUE(h.activate(kStatsVq | kReporting));
  h.inflate({5});
  ASSERT_EQ(h.backend.inflates.size(), 1u);
  EXPECT_FALSE(h.backend.inflates[0].guest_keeps_off);
}

TEST_F(BalloonDeviceTest, CompactionMigrationsKeepTheBalloonExact) {
  ASSERT_TRUE(h.activate());
  h.device->set_target_pages(256);
  fill(1000, 256);
  // Linux's virtballoon_migratepage: tell_host(inflate, new), then tell_host(deflate, old).
  for (uint32_t i = 0; i < 5; ++i) {
    h.inflate({2000 + i});
    EXPECT_EQ(h.device->balloon_pages(), 257u);
    h.deflate({1000 + i});
    EXPECT_EQ(h.device->balloon_pages(), 256u);
  }
  BalloonCounters c = h.counters();
  EXPECT_EQ(c.unrequested_inflated_pages, 5u);
  EXPECT_EQ(c.migrated_pages, 5u);
  EXPECT_EQ(c.oom_deflated_pages + c.unrequested_deflated_pages, 0u);
  EXPECT_EQ(h.backend.ballooned.count(2004), 1u);
  EXPECT_EQ(h.backend.ballooned.count(1004), 0u);
  EXPECT_EQ(h.backend.ballooned.size(), 256u);
}

TEST_F(BalloonDeviceTest, DeflatesAtTargetWithDeflateOnOomAreOom) {
  ASSERT_TRUE(h.activate(kAllFeatures));
  h.device->set_target_pages(100);
  fill(0, 100);
  h.deflate(BalloonHarness::pfn_range(0, 30));  // the guest's OOM notifier
  BalloonCounters c = h.counters();
  EXPECT_EQ(c.oom_deflated_pages, 30u);
  EXPECT_EQ(c.unrequested_deflated_pages, 0u);
  EXPECT_EQ(h.device->balloon_pages(), 70u);
}

TEST_F(BalloonDeviceTest, DeflatesAtTargetWithoutDeflateOnOomAreUnrequested) {
  ASSERT_TRUE(h.activate(kMustTellHost | kStatsVq | kReporting));
  h.device->set_target_pages(100);
  fill(0, 100);
  h.deflate(BalloonHarness::pfn_range(0, 30));
  BalloonCounters c = h.counters();
  EXPECT_EQ(c.oom_deflated_pages, 0u);
  EXPECT_EQ(c.unrequested_deflated_pages, 30u);
  EXPECT_EQ(h.device->balloon_pages(), 70u) << "honoured anyway";
}

TEST_F(BalloonDeviceTest, ATargetRaisedAndLoweredBetweenRequestsForgivesExcess) {
  ASSERT_TRUE(h.activate());
  h.device->set_target_pages(10);
  fill(0, 12);  // 2 beyond the target: unrequested
  EXPECT_EQ(h.counters().unrequested_inflated_pages, 2u);
  // The host wants 12 after all, then changes its mind back to 10 before the next request:
  // the highest target in between counts, so those 2 pages are no longer excess.
  h.device->set_target_pages(12);
  h.device->set_target_pages(10);
  h.deflate({0, 1});
  BalloonCounters c = h.counters();
  EXPECT_EQ(c.migrated_pages, 0u);
  EXPECT_EQ(c.deflated_pages, 2u);
}

TEST_F(BalloonDeviceTest, InflateCostIsMeasuredWithTheClock) {
  ASSERT_TRUE(h.activate());
  h.clock_step_ns = 500;  // each clock read advances 500 ns: one inflate spans 500 ns
  h.inflate(BalloonHarness::pfn_range(0, 10));
  h.inflate(BalloonHarness::pfn_range(10, 10));
  BalloonCounters c = h.counters();
  EXPECT_EQ(c.inflate_ns, 1000u);
  EXPECT_EQ(c.inflate_timed_pages, 20u);
  EXPECT_DOUBLE_EQ(c.inflate_ns_per_page(), 50.0);
}

TEST_F(BalloonDeviceTest, NoInterruptWhenTheDriverSuppressesIt) {
  ASSERT_TRUE(h.activate());
  h.ring(QueueRole::kInflate).set_avail_flags(dev::VIRTQ_AVAIL_F_NO_INTERRUPT);
  h.inflate({1});
  EXPECT_EQ(h.used_count(QueueRole::kInflate), 1);
  EXPECT_EQ(h.irq.queue_notes(h.index_of(QueueRole::kInflate)), 0);
}

// --- Free page reporting ------------------------------------------------------------------

TEST_F(BalloonDeviceTest, ReportsHandGoodRangesToTheBackend) {
  ASSERT_TRUE(h.activate());
  const uint16_t head = h.report({{0x800000, 512 * kPage}, {0xa00000, 2 * kPage}});
  ASSERT_EQ(h.used_count(QueueRole::kReporting), 1);
  EXPECT_EQ(h.used(QueueRole::kReporting, 0).id, head);
  EXPECT_EQ(h.used(QueueRole::kReporting, 0).len, 0u) << "returned with nothing written, as QEMU does";
  ASSERT_EQ(h.backend.reports.size(), 1u);
  ASSERT_EQ(h.backend.reports[0].size(), 2u);
  EXPECT_EQ(h.backend.reports[0][0].first, gmm::Gfn(0x800));
  EXPECT_EQ(h.backend.reports[0][0].count, 512u);
  EXPECT_EQ(h.backend.reports[0][1].count, 2u);
  BalloonCounters c = h.counters();
  EXPECT_EQ(c.reported_pages, 514u);
  EXPECT_EQ(c.report_requests, 1u);
  EXPECT_EQ(c.frames_released, 514u);
  EXPECT_EQ(h.device->balloon_pages(), 0u) << "reported pages stay the guest's";
}

TEST_F(BalloonDeviceTest, ReportsSkipBalloonedAndRepeatedPages) {
  ASSERT_TRUE(h.activate());
  h.inflate({0x802});
  // 0x800..0x807, then 0x804..0x805 again: 0x802 is ballooned, 0x804-0x805 repeated.
  h.report({{0x800000, 8 * kPage}, {0x804000, 2 * kPage}});
  ASSERT_EQ(h.backend.reports.size(), 1u);
  EXPECT_EQ(h.backend.reported_gfns(0), (std::vector<uint64_t>{0x800, 0x801, 0x803, 0x804, 0x805, 0x806, 0x807}));
  EXPECT_EQ(h.backend.reports[0].size(), 2u) << "split around the ballooned page";
  EXPECT_EQ(h.fault(BalloonFault::kReportBallooned), 1u);
  EXPECT_EQ(h.fault(BalloonFault::kReportDuplicate), 2u);
  EXPECT_EQ(h.counters().reported_pages, 7u);
}

// --- Stats --------------------------------------------------------------------------------

TEST_F(BalloonDeviceTest, StatsBufferIsHeldUntilRequested) {
  ASSERT_TRUE(h.activate());
  EXPECT_FALSE(h.device->request_stats()) << "nothing held yet";
  h.now_ns = 5'000'000;
  const uint16_t head = h.send_stats({{VIRTIO_BALLOON_S_MEMTOT, 64 * test::kMiB}, {VIRTIO_BALLOON_S_AVAIL, 40 * test::kMiB}});
  EXPECT_EQ(h.used_count(QueueRole::kStats), 0) << "held, not returned";
  BalloonStatus st = h.device->status();
  ASSERT_TRUE(st.stats);
  EXPECT_EQ(st.stats->get(VIRTIO_BALLOON_S_AVAIL), 40 * test::kMiB);
  EXPECT_EQ(st.stats->available_bytes(), 40 * test::kMiB);
  EXPECT_EQ(st.stats->updated_ns, 5'000'000u);
  EXPECT_EQ(st.stats->sequence, 1u);
  EXPECT_EQ(st.counters.stats_buffers, 1u);

  EXPECT_TRUE(h.device->request_stats());
  ASSERT_EQ(h.used_count(QueueRole::kStats), 1);
  EXPECT_EQ(h.used(QueueRole::kStats, 0).id, head);
  EXPECT_EQ(h.irq.queue_notes(h.index_of(QueueRole::kStats)), 1);
  EXPECT_FALSE(h.device->request_stats()) << "returned already";
  EXPECT_EQ(h.counters().stats_requests, 1u);

  // The driver refills it and queues it again: a new sample.
  h.now_ns = 9'000'000;
  h.send_stats({{VIRTIO_BALLOON_S_MEMFREE, 1}});
  st = h.device->status();
  EXPECT_EQ(st.stats->sequence, 2u);
  EXPECT_EQ(st.stats->updated_ns, 9'000'000u);
  EXPECT_EQ(st.stats->get(VIRTIO_BALLOON_S_AVAIL), std::nullopt) << "each buffer is a whole set";
}

TEST_F(BalloonDeviceTest, ASecondStatsBufferReturnsTheFirst) {
  ASSERT_TRUE(h.activate());
  const uint16_t first = h.send_stats({{VIRTIO_BALLOON_S_AVAIL, 1}});
  h.send_stats({{VIRTIO_BALLOON_S_AVAIL, 2}});
  ASSERT_EQ(h.used_count(QueueRole::kStats), 1);
  EXPECT_EQ(h.used(QueueRole::kStats, 0).id, first);
  EXPECT_EQ(h.fault(BalloonFault::kStatsExtraBuffer), 1u);
  EXPECT_EQ(h.device->status().stats->get(VIRTIO_BALLOON_S_AVAIL), 2u);
  EXPECT_TRUE(h.device->request_stats()) << "the second one is held";
  EXPECT_EQ(h.used_count(QueueRole::kStats), 2);
  EXPECT_EQ(h.counters().stats_requests, 1u);
}

TEST_F(BalloonDeviceTest, StatsFaultsAreCounted) {
  ASSERT_TRUE(h.activate());
  h.send_stats({{VIRTIO_BALLOON_S_AVAIL, 1}, {200, 5}, {VIRTIO_BALLOON_S_NR, 6}}, 3);
  EXPECT_EQ(h.fault(BalloonFault::kStatsUnknownTag), 2u);
  EXPECT_EQ(h.fault(BalloonFault::kStatsPartialEntry), 1u);
  EXPECT_EQ(h.device->status().stats->get(VIRTIO_BALLOON_S_AVAIL), 1u);
}

TEST_F(BalloonDeviceTest, NoStatsQueueMeansNoStatsRequests) {
  ASSERT_TRUE(h.activate(kMustTellHost | kReporting));
  EXPECT_FALSE(h.device->request_stats());
  EXPECT_FALSE(h.device->status().stats);
}

// --- Reset --------------------------------------------------------------------------------

TEST_F(BalloonDeviceTest, ResetGivesEveryPageBackAndStopsTheDevice) {
  ASSERT_TRUE(h.activate());
  h.device->set_target_pages(300);
  fill(10, 250);
  const auto high = static_cast<uint32_t>(BalloonHarness::kHighRamGfn);
  h.inflate({high + 7, high + 9});
  h.write_actual(252);
  h.send_stats({{VIRTIO_BALLOON_S_AVAIL, 1}});
  h.reset();
  EXPECT_TRUE(h.backend.ballooned.empty());
  ASSERT_FALSE(h.backend.deflates.empty());
  EXPECT_EQ(h.backend.deflates.back().size(), 252u);
  BalloonStatus st = h.device->status();
  EXPECT_FALSE(st.active);
  EXPECT_EQ(st.balloon_pages, 0u);
  EXPECT_EQ(st.actual_pages, 0u);
  EXPECT_EQ(st.target_pages, 300u) << "the host's target survives a guest reset";
  EXPECT_TRUE(st.stats) << "the last figures stay visible";
  EXPECT_EQ(st.counters.reset_deflated_pages, 252u);
  EXPECT_FALSE(h.device->request_stats()) << "the held buffer went with the reset";
  EXPECT_EQ(h.used_count(QueueRole::kStats), 0);
  // Afterwards the device touches nothing.
  h.device->queue_notified(0);
  EXPECT_EQ(h.device->set_target_pages(1), 1u);
  EXPECT_EQ(h.irq.config_notes(), 1) << "one for 300 while active, none after reset";
  EXPECT_EQ(h.backend.inflates.size(), 2u);
  // And it comes back: a new driver starts from an empty balloon.
  ASSERT_TRUE(h.activate());
  h.inflate({10});
  EXPECT_EQ(h.device->balloon_pages(), 1u);
  EXPECT_EQ(h.fault(BalloonFault::kPfnAlreadyBallooned), 0u);
}

TEST_F(BalloonDeviceTest, ResetFindsGfnsWithoutTheBackendsHelp) {
  HarnessOptions o;
  o.backend_knows_gfns = false;  // gfn_at() answers nullopt: the device walks RAM
  BalloonHarness g(o);
  ASSERT_TRUE(g.activate());
  const auto high = static_cast<uint32_t>(BalloonHarness::kHighRamGfn);
  g.inflate({3, 4000, high, high + 100});
  g.reset();
  ASSERT_EQ(g.backend.deflates.size(), 1u);
  EXPECT_EQ(g.backend.deflates[0], (std::vector<uint64_t>{3, 4000, high, high + 100}));
  EXPECT_TRUE(g.backend.ballooned.empty());
  EXPECT_TRUE(g.device->check_invariants());
  EXPECT_TRUE(g.backend.violations.empty());
}

TEST_F(BalloonDeviceTest, ResetOfAnIdleDeviceIsHarmless) {
  h.device->reset();
  h.device->reset();
  EXPECT_TRUE(h.backend.deflates.empty());
  ASSERT_TRUE(h.activate());
  h.device->reset();
  EXPECT_TRUE(h.backend.deflates.empty());
}

// --- Observer and waiting -----------------------------------------------------------------

TEST_F(BalloonDeviceTest, TheObserverSeesChangesOutsideTheLock) {
  std::atomic<int> calls{0};
  uint64_t seen_balloon = 0;
  h.device->set_observer([&] {
    ++calls;
    seen_balloon = h.device->balloon_pages();  // would deadlock if called under the lock
  });
  ASSERT_TRUE(h.activate());
  int after_activate = calls.load();
  EXPECT_GE(after_activate, 1);
  h.inflate({1, 2});
  EXPECT_EQ(calls.load(), after_activate + 1);
  EXPECT_EQ(seen_balloon, 2u);
  h.write_actual(2);
  EXPECT_EQ(calls.load(), after_activate + 2);
  h.write_actual(2);
  EXPECT_EQ(calls.load(), after_activate + 2) << "no change, no call";
}

TEST_F(BalloonDeviceTest, WaitUntilWakesOnChange) {
  ASSERT_TRUE(h.activate());
  std::thread driver([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    h.inflate({1, 2, 3});
    h.write_actual(3);
  });
  const bool reached = h.device->wait_until(
      [](const BalloonStatus& s) { return s.balloon_pages == 3 && s.actual_pages == 3; }, 10'000'000'000);
  driver.join();
  EXPECT_TRUE(reached);
}

TEST_F(BalloonDeviceTest, WaitUntilTimesOut) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(h.device->wait_until([](const BalloonStatus& s) { return s.balloon_pages == 1; }, 30'000'000));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  EXPECT_TRUE(h.device->wait_until([](const BalloonStatus& s) { return s.balloon_pages == 0; }, 0));
}

}  // namespace
}  // namespace tide::balloon
