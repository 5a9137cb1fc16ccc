// Unit: BalloonDevice against hostile or broken input — PFNs outside RAM, duplicates within
// and across requests, deflates of pages not in the balloon, odd buffer lengths, writable
// buffers, oversized requests, unused queues, bad report ranges, malformed chains (loops,
// buffers outside RAM, bad heads, avail index jumps) — and against a failing backend. Each
// case asserts the exact count, that the device carries on, and that the balloon, the
// backend and the invariants stay exact.
#include "balloon/balloon_device.hpp"

#include <gtest/gtest.h>

#include "unit/balloon/balloon_harness.hpp"

namespace tide::balloon {
namespace {

using test::BalloonHarness;
using test::HarnessOptions;
using test::kAllFeatures;
using test::kMiB;
using test::kPage;

class BalloonFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h.activate()); }
  void TearDown() override {
    EXPECT_TRUE(h.device->check_invariants()) << h.device->check_invariants().error().message();
    EXPECT_TRUE(h.backend.violations.empty()) << h.backend.violations.front();
    EXPECT_EQ(h.device->balloon_pages(), h.backend.ballooned.size()) << "device and backend agree";
  }
  // A well-formed request still works: the device survived whatever came before.
  void expect_alive() {
    const uint64_t before = h.device->balloon_pages();
    const uint32_t pfn = 4000;
    if (h.backend.ballooned.count(pfn)) {
      h.deflate({pfn});
      EXPECT_EQ(h.device->balloon_pages(), before - 1);
    } else {
      h.inflate({pfn});
      EXPECT_EQ(h.device->balloon_pages(), before + 1);
    }
  }
  BalloonHarness h;
};

TEST_F(BalloonFaultsTest, PfnsOutsideRamAreSkipped) {
  const uint32_t hole = (20 * kMiB) / kPage;
  h.inflate({1, hole, 2, 0xffffffff, static_cast<uint32_t>((40 * kMiB) / kPage)});
  EXPECT_EQ(h.fault(BalloonFault::kPfnOutsideRam), 3u);
  EXPECT_EQ(h.device->balloon_pages(), 2u);
  ASSERT_EQ(h.backend.inflates.size(), 1u);
  EXPECT_EQ(h.backend.inflates[0].gfns, (std::vector<uint64_t>{1, 2}));
  h.deflate({hole, 1});
  EXPECT_EQ(h.fault(BalloonFault::kPfnOutsideRam), 4u);
  EXPECT_EQ(h.device->balloon_pages(), 1u);
  EXPECT_EQ(h.used_count(QueueRole::kInflate), 1);
  EXPECT_EQ(h.used_count(QueueRole::kDeflate), 1);
}

TEST_F(BalloonFaultsTest, DuplicatesWithinARequestAreSkipped) {
  h.inflate({5, 5, 6, 5, 6, 7});
  EXPECT_EQ(h.fault(BalloonFault::kPfnDuplicate), 3u);
  EXPECT_EQ(h.backend.inflates[0].gfns, (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(h.counters().inflated_pages, 3u);
  h.deflate({6, 6, 7, 7});
  EXPECT_EQ(h.fault(BalloonFault::kPfnDuplicate), 5u);
  EXPECT_EQ(h.backend.deflates[0], (std::vector<uint64_t>{6, 7}));
  EXPECT_EQ(h.device->balloon_pages(), 1u);
  EXPECT_EQ(h.fault(BalloonFault::kPfnNotBallooned), 0u) << "a repeat is a duplicate, not a second deflate";
}

TEST_F(BalloonFaultsTest, InflatingABalloonedPageAgainIsSkipped) {
  h.inflate({5, 6});
  h.inflate({6, 7, 5});
  EXPECT_EQ(h.fault(BalloonFault::kPfnAlreadyBallooned), 2u);
  ASSERT_EQ(h.backend.inflates.size(), 2u);
  EXPECT_EQ(h.backend.inflates[1].gfns, (std::vector<uint64_t>{7}));
  EXPECT_EQ(h.device->balloon_pages(), 3u);
  h.inflate({5, 6, 7});  // nothing new: the backend is not called at all
  EXPECT_EQ(h.backend.inflates.size(), 2u);
  EXPECT_EQ(h.used_count(QueueRole::kInflate), 3);
}

TEST_F(BalloonFaultsTest, DeflatingAPageNotInTheBalloonIsSkipped) {
  h.deflate({9, 10});
  EXPECT_EQ(h.fault(BalloonFault::kPfnNotBallooned), 2u);
  EXPECT_TRUE(h.backend.deflates.empty());
  h.inflate({9});
  h.deflate({9, 10});
  h.deflate({9});  // twice
  EXPECT_EQ(h.fault(BalloonFault::kPfnNotBallooned), 4u);
  ASSERT_EQ(h.backend.deflates.size(), 1u);
  EXPECT_EQ(h.device->balloon_pages(), 0u);
  EXPECT_EQ(h.counters().deflated_pages, 1u);
}

TEST_F(BalloonFaultsTest, OddBufferLengthsUseTheWholePfnPrefix) {
  uint64_t gpa = h.put_pfns({11, 12, 13});
  h.ring(QueueRole::kInflate).add_chain({{gpa, 10, false}});  // 2 PFNs and 2 bytes
  h.notify(QueueRole::kInflate);
  EXPECT_EQ(h.fault(BalloonFault::kBadBufferLength), 1u);
  EXPECT_EQ(h.device->balloon_pages(), 2u);
}

TEST_F(BalloonFaultsTest, WritableBuffersAreIgnoredAndCounted) {
  uint64_t gpa = h.put_pfns({21, 22});
  h.ring(QueueRole::kInflate).add_chain({{gpa, 8, false}, {0x300000, 64, true}});
  h.notify(QueueRole::kInflate);
  EXPECT_EQ(h.device->balloon_pages(), 2u);
  gpa = h.put_pfns({21});
  h.ring(QueueRole::kDeflate).add_chain({{gpa, 4, false}, {0x300000, 4, true}, {0x301000, 4, true}});
  h.notify(QueueRole::kDeflate);
  EXPECT_EQ(h.device->balloon_pages(), 1u);
  h.ring(QueueRole::kStats).add_chain({{0x300000, 20, true}});
  h.notify(QueueRole::kStats);
  EXPECT_EQ(h.fault(BalloonFault::kUnexpectedWritable), 4u);
  EXPECT_EQ(h.used_count(QueueRole::kInflate), 1);
  EXPECT_EQ(h.used_count(QueueRole::kDeflate), 1);
}

TEST_F(BalloonFaultsTest, PfnsPastTheRequestBoundAreSkipped) {
  HarnessOptions o;
  o.max_pfns_per_request = 8;
  BalloonHarness g(o);
  ASSERT_TRUE(g.activate());
  g.inflate(BalloonHarness::pfn_range(100, 10));
  EXPECT_EQ(g.device->balloon_pages(), 8u);
  EXPECT_EQ(g.fault(BalloonFault::kRequestTooLarge), 2u);
  EXPECT_EQ(g.backend.ballooned.count(107), 1u);
  EXPECT_EQ(g.backend.ballooned.count(108), 0u);
  EXPECT_TRUE(g.device->check_invariants());
}

TEST_F(BalloonFaultsTest, AHugeRequestIsBoundedNotRead) {
  // One 8 MiB buffer: two million PFNs (all zero here). The device reads its bound (4096),
  // finds PFN 0 once and 4095 repeats, and only counts the rest.
  h.ring(QueueRole::kInflate).add_chain({{0x400000, 8 * kMiB, false}});
  h.notify(QueueRole::kInflate);
  EXPECT_EQ(h.device->balloon_pages(), 1u);
  EXPECT_EQ(h.fault(BalloonFault::kPfnDuplicate), 4095u);
  EXPECT_EQ(h.fault(BalloonFault::kRequestTooLarge), 2u * 1024 * 1024 - 4096);
}

TEST_F(BalloonFaultsTest, NotificationsOnQueuesWithoutARoleAreCounted) {
  BalloonHarness g;
  ASSERT_TRUE(g.activate(0));  // a driver that accepted no optional feature: two queues
  g.device->queue_notified(2);
  g.device->queue_notified(3);
  g.device->queue_notified(200);
  EXPECT_EQ(g.fault(BalloonFault::kQueueUnused), 3u);
  g.inflate({1});
  EXPECT_EQ(g.device->balloon_pages(), 1u);
  EXPECT_TRUE(g.device->check_invariants());
}

TEST_F(BalloonFaultsTest, ReportingWithoutStatsUsesQueueTwo) {
  BalloonHarness g;
  ASSERT_TRUE(g.activate(test::kMustTellHost | test::kReporting));
  EXPECT_EQ(g.index_of(QueueRole::kReporting), 2);
  g.report({{0x200000, 4 * kPage}});
  EXPECT_EQ(g.counters().reported_pages, 4u);
  g.device->queue_notified(3);
  EXPECT_EQ(g.fault(BalloonFault::kQueueUnused), 1u);
  EXPECT_TRUE(g.device->check_invariants());
}

TEST_F(BalloonFaultsTest, BadReportBuffersAreSkipped) {
  h.report({{0x200001, 4 * kPage}, {0x200000, 4 * kPage + 1}, {0x200000, 0}, {0x210000, kPage}});
  EXPECT_EQ(h.fault(BalloonFault::kReportMisaligned), 3u);
  ASSERT_EQ(h.backend.reports.size(), 1u);
  EXPECT_EQ(h.backend.reported_gfns(0), (std::vector<uint64_t>{0x210}));
  // A readable buffer on reporting_vq: ignored.
  h.ring(QueueRole::kReporting).add_chain({{0x220000, kPage, false}});
  h.notify(QueueRole::kReporting);
  EXPECT_EQ(h.fault(BalloonFault::kReportReadable), 1u);
  EXPECT_EQ(h.backend.reports.size(), 1u) << "nothing to report: the backend is not called";
  EXPECT_EQ(h.used_count(QueueRole::kReporting), 2);
}

TEST_F(BalloonFaultsTest, ReportsOfMemoryTheBackendDoesNotCallRamAreSkipped) {
  HarnessOptions o;
  o.backend_low_pages = (15 * kMiB) / kPage;  // the last MiB of the first region is not RAM
  BalloonHarness g(o);
  ASSERT_TRUE(g.activate());
  g.report({{15 * kMiB - 2 * kPage, 4 * kPage}, {14 * kMiB, 2 * kPage}});
  EXPECT_EQ(g.fault(BalloonFault::kReportOutsideRam), 1u);
  ASSERT_EQ(g.backend.reports.size(), 1u);
  EXPECT_EQ(g.backend.reported_gfns(0), (std::vector<uint64_t>{(14 * kMiB) / kPage, (14 * kMiB) / kPage + 1}));
  g.inflate({static_cast<uint32_t>((15 * kMiB) / kPage)});
  EXPECT_EQ(g.fault(BalloonFault::kPfnOutsideRam), 1u);
  EXPECT_TRUE(g.device->check_invariants());
}

TEST_F(BalloonFaultsTest, ReportsPastTheBoundAreSkipped) {
  HarnessOptions o;
  o.max_report_pages_per_request = 16;
  BalloonHarness g(o);
  ASSERT_TRUE(g.activate());
  g.report({{0x200000, 8 * kPage}, {0x300000, 32 * kPage}, {0x400000, 8 * kPage}, {0x500000, kPage}});
  EXPECT_EQ(g.fault(BalloonFault::kRequestTooLarge), 33u);
  EXPECT_EQ(g.counters().reported_pages, 16u);
  EXPECT_TRUE(g.device->check_invariants());
}

// --- Malformed chains: the Queue consumes them; the device must survive ------------------

TEST_F(BalloonFaultsTest, ALoopedChainIsDroppedAndTheDeviceCarriesOn) {
  auto& ring = h.ring(QueueRole::kInflate);
  uint64_t gpa = h.put_pfns({1});
  ring.set_desc(0, gpa, 4, dev::VIRTQ_DESC_F_NEXT, 1);
  ring.set_desc(1, gpa, 4, dev::VIRTQ_DESC_F_NEXT, 0);  // 0 -> 1 -> 0
  ring.publish(0);
  h.notify(QueueRole::kInflate);
  EXPECT_EQ(h.queue(QueueRole::kInflate).fault_count(dev::QueueFault::kChainLoop), 1u);
  EXPECT_EQ(h.used_count(QueueRole::kInflate), 1) << "returned with 0 bytes";
  EXPECT_EQ(h.device->balloon_pages(), 0u);
  EXPECT_TRUE(h.backend.inflates.empty());
  // The driver's next chain (after the two descriptors it used) is served.
  auto& next = h.ring(QueueRole::kInflate);
  next.set_desc(2, h.put_pfns({2}), 4, 0);
  next.publish(2);
  h.notify(QueueRole::kInflate);
  EXPECT_EQ(h.device->balloon_pages(), 1u);
}

TEST_F(BalloonFaultsTest, BuffersOutsideRamAndBadHeadsAreDropped) {
  auto& ring = h.ring(QueueRole::kDeflate);
  ring.set_desc(0, 20 * kMiB, 4, 0);                 // in the hole
  ring.set_desc(1, 16 * kMiB - 2, 4, 0);             // straddles the end of RAM
  ring.set_desc(2, 0x1000, 0xffffffff, 0);           // 4 GiB from 4 KiB
  ring.publish(0);
  ring.publish(1);
  ring.publish(2);
  ring.publish(99);                                  // head past the queue size
  h.notify(QueueRole::kDeflate);
  const dev::Queue& q = h.queue(QueueRole::kDeflate);
  EXPECT_EQ(q.fault_count(dev::QueueFault::kBufferOutOfRam), 3u);
  EXPECT_EQ(q.fault_count(dev::QueueFault::kDescIndexOutOfRange), 1u);
  EXPECT_EQ(h.used_count(QueueRole::kDeflate), 3) << "a bad head cannot be returned";
  EXPECT_EQ(h.counters().deflate_requests, 0u);
  expect_alive();
}

TEST_F(BalloonFaultsTest, ChainsLongerThanTheQueueAreDropped) {
  BalloonHarness g;
  ASSERT_TRUE(g.activate());
  auto& ring = g.ring(QueueRole::kInflate);
  ring.configure(g.queue(QueueRole::kInflate), false, /*indirect=*/true);
  // One direct buffer, then an indirect table of 16: 17 buffers in a queue of 16.
  const uint64_t gpa = g.put_pfns({3});
  std::vector<dev::VirtqDesc> table;
  for (uint16_t i = 0; i < 16; ++i) {
    table.push_back(dev::VirtqDesc{gpa, 4, static_cast<uint16_t>(i + 1 < 16 ? dev::VIRTQ_DESC_F_NEXT : 0),
                                   static_cast<uint16_t>(i + 1)});
  }
  const uint32_t len = ring.write_indirect_table(0x380000, table);
  ring.set_desc(0, gpa, 4, dev::VIRTQ_DESC_F_NEXT, 1);
  ring.set_desc(1, 0x380000, len, dev::VIRTQ_DESC_F_INDIRECT);
  ring.publish(0);
  // And an indirect table larger than the queue on its own.
  table.push_back(table.back());
  ring.set_desc(2, 0x381000, ring.write_indirect_table(0x381000, table), dev::VIRTQ_DESC_F_INDIRECT);
  ring.publish(2);
  g.notify(QueueRole::kInflate);
  const dev::Queue& q = g.queue(QueueRole::kInflate);
  EXPECT_EQ(q.fault_count(dev::QueueFault::kChainTooLong), 1u);
  EXPECT_EQ(q.fault_count(dev::QueueFault::kIndirectBadSize), 1u);
  EXPECT_EQ(g.used_count(QueueRole::kInflate), 2);
  EXPECT_EQ(g.device->balloon_pages(), 0u);
  EXPECT_TRUE(g.backend.inflates.empty());
  g.inflate({3});
  EXPECT_EQ(g.device->balloon_pages(), 1u);
  EXPECT_TRUE(g.device->check_invariants());
}

TEST_F(BalloonFaultsTest, ABrokenQueueStopsOnlyItself) {
  h.ring(QueueRole::kInflate).set_avail_idx(100);  // jumps more than the queue size ahead
  h.notify(QueueRole::kInflate);
  EXPECT_TRUE(h.queue(QueueRole::kInflate).broken());
  EXPECT_GE(h.irq.needs_reset_calls(), 1) << "the driver is told to reset the device";
  h.inflate({1});
  EXPECT_EQ(h.device->balloon_pages(), 0u);
  h.report({{0x200000, kPage}});
  EXPECT_EQ(h.counters().reported_pages, 1u) << "the other queues still work";
  // A reset (the driver's recovery) brings it back.
  h.reset();
  ASSERT_TRUE(h.activate());
  h.inflate({1});
  EXPECT_EQ(h.device->balloon_pages(), 1u);
}

// --- Backend failures ---------------------------------------------------------------------

TEST_F(BalloonFaultsTest, AFailedInflateLeavesThePagesOutOfTheBalloon) {
  h.backend.fail_inflates = 1;
  h.inflate({1, 2, 3});
  EXPECT_EQ(h.fault(BalloonFault::kBackendError), 3u);
  EXPECT_EQ(h.device->balloon_pages(), 0u);
  EXPECT_EQ(h.counters().inflated_pages, 0u);
  EXPECT_EQ(h.counters().frames_released, 0u);
  EXPECT_EQ(h.used_count(QueueRole::kInflate), 1) << "returned all the same";
  // The same pages can be inflated later: not "already ballooned".
  h.inflate({1, 2, 3});
  EXPECT_EQ(h.device->balloon_pages(), 3u);
  EXPECT_EQ(h.fault(BalloonFault::kPfnAlreadyBallooned), 0u);
  // A guest deflate of pages whose inflate failed is a deflate of pages not in the balloon.
  h.backend.fail_inflates = 1;
  h.inflate({4});
  h.deflate({4});
  EXPECT_EQ(h.fault(BalloonFault::kPfnNotBallooned), 1u);
}

TEST_F(BalloonFaultsTest, AFailedDeflateKeepsThePagesInTheBalloon) {
  h.inflate({1, 2, 3});
  h.backend.fail_deflates = 1;
  h.deflate({1, 2});
  EXPECT_EQ(h.fault(BalloonFault::kBackendError), 2u);
  EXPECT_EQ(h.device->balloon_pages(), 3u);
  EXPECT_EQ(h.counters().deflated_pages, 0u);
  h.deflate({1, 2});  // the retry goes through
  EXPECT_EQ(h.device->balloon_pages(), 1u);
  EXPECT_EQ(h.counters().deflated_pages, 2u);
}

TEST_F(BalloonFaultsTest, AFailedReportIsCounted) {
  h.backend.fail_reports = 1;
  h.report({{0x200000, 2 * kPage}});
  EXPECT_EQ(h.fault(BalloonFault::kBackendError), 2u);
  EXPECT_EQ(h.counters().reported_pages, 0u);
  EXPECT_EQ(h.used_count(QueueRole::kReporting), 1);
}

TEST_F(BalloonFaultsTest, AResetEmptiesTheBalloonEvenIfTheBackendFails) {
  h.inflate(BalloonHarness::pfn_range(10, 20));
  h.backend.fail_deflates = 1;
  h.reset();
  EXPECT_EQ(h.device->balloon_pages(), 0u);
  EXPECT_EQ(h.counters().reset_deflated_pages, 20u);
  EXPECT_EQ(h.fault(BalloonFault::kBackendError), 20u);
  // The reset guest owns its memory again; the backend still holds the pages ballooned
  // and a new inflate of them would be its no-op (BalloonBackend contract). Forget them
  // here so the teardown comparison holds.
  h.backend.ballooned.clear();
  ASSERT_TRUE(h.activate());
}

}  // namespace
}  // namespace tide::balloon
