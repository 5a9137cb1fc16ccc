// Split virtqueue parsing against well-formed and hostile driver layouts.
#include "devices/virtio/queue.hpp"

#include <gtest/gtest.h>

#include <random>

#include "unit/devices/fake_guest_memory.hpp"
#include "unit/devices/virtqueue_builder.hpp"

namespace tide::dev {
namespace {

using test::Buf;
using test::FakeGuestMemory;
using test::VirtqueueBuilder;

constexpr uint16_t kSize = 16;
constexpr uint64_t kRings = 0x1000;

class QueueTest : public ::testing::Test {
 protected:
  FakeGuestMemory mem;  // 1 MiB at 0
  Queue q{kSize, "test queue"};
  VirtqueueBuilder vq = VirtqueueBuilder::at(mem, kSize, kRings);

  void SetUp() override { vq.configure(q); }
  void TearDown() override { EXPECT_TRUE(q.check_invariants()); }
  const gmm::GuestMemory& m() { return mem.memory(); }
  // Every fault kind except `kind` is still zero.
  void expect_only(QueueFault kind, uint64_t count) {
    for (size_t i = 0; i < kQueueFaultKinds; ++i) {
      auto k = static_cast<QueueFault>(i);
      EXPECT_EQ(q.fault_count(k), k == kind ? count : 0) << queue_fault_name(k);
    }
  }
  // The malformed chain came back to the driver as (head, 0).
  void expect_returned(uint16_t used_index, uint16_t head) {
    EXPECT_EQ(vq.used(used_index).id, head);
    EXPECT_EQ(vq.used(used_index).len, 0u);
  }
};

TEST_F(QueueTest, PopsReadableThenWritableBuffersInChainOrder) {
  uint16_t head = vq.add_chain({{0x10000, 100}, {0x10100, 50}, {0x20000, 200, true}, {0x30000, 8, true}});
  auto chain = q.pop(m());
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->head, head);
  ASSERT_EQ(chain->readable.size(), 2u);
  EXPECT_EQ(chain->readable[0], (GuestBuffer{gmm::Gpa(0x10000), 100}));
  EXPECT_EQ(chain->readable[1], (GuestBuffer{gmm::Gpa(0x10100), 50}));
  ASSERT_EQ(chain->writable.size(), 2u);
  EXPECT_EQ(chain->writable[0], (GuestBuffer{gmm::Gpa(0x20000), 200}));
  EXPECT_EQ(chain->writable[1], (GuestBuffer{gmm::Gpa(0x30000), 8}));
  EXPECT_EQ(chain->readable_bytes(), 150u);
  EXPECT_EQ(chain->writable_bytes(), 208u);
  EXPECT_FALSE(q.pop(m()));
  EXPECT_EQ(q.next_avail(), 1);
  EXPECT_EQ(q.total_faults(), 0u);
}

TEST_F(QueueTest, AddUsedWritesElementThenIndex) {
  uint16_t a = vq.add_chain({{0x10000, 64, true}});
  uint16_t b = vq.add_chain({{0x11000, 64, true}});
  auto ca = q.pop(m());
  auto cb = q.pop(m());
  ASSERT_TRUE(ca && cb);
  q.add_used(m(), cb->head, 7);
  EXPECT_EQ(vq.used_idx(), 1);
  EXPECT_EQ(vq.used(0).id, b);
  EXPECT_EQ(vq.used(0).len, 7u);
  q.add_used(m(), ca->head, 64);
  EXPECT_EQ(vq.used_idx(), 2);
  EXPECT_EQ(vq.used(1).id, a);
  EXPECT_EQ(vq.used(1).len, 64u);
  EXPECT_EQ(q.next_used(), 2);
}

TEST_F(QueueTest, NothingWhenEmptyOrNotReady) {
  EXPECT_FALSE(q.pop(m()));
  vq.add_chain({{0x10000, 1}});
  q.set_ready(false);
  EXPECT_FALSE(q.pop(m()));
  q.set_ready(true);
  EXPECT_TRUE(q.pop(m()));
}

TEST_F(QueueTest, SizeMustBeAPowerOfTwoWithinTheMaximum) {
  EXPECT_FALSE(q.set_size(0));
  EXPECT_FALSE(q.set_size(12));
  EXPECT_FALSE(q.set_size(32));
  EXPECT_EQ(q.size(), kSize);
  EXPECT_TRUE(q.set_size(4));
  EXPECT_EQ(q.size(), 4);
  EXPECT_TRUE(q.set_size(1));
}

TEST_F(QueueTest, IndicesWrapAroundSixteenBits) {
  for (uint32_t i = 0; i < 70000; ++i) {
    vq.add_chain({{0x10000, 4, true}});
    auto c = q.pop(m());
    ASSERT_TRUE(c) << i;
    q.add_used(m(), c->head, 4);
  }
  EXPECT_EQ(q.next_avail(), static_cast<uint16_t>(70000));
  EXPECT_EQ(vq.used_idx(), static_cast<uint16_t>(70000));
  EXPECT_EQ(q.total_faults(), 0u);
}

TEST_F(QueueTest, HeadIndexOutOfRangeIsDroppedAndCounted) {
  vq.publish(kSize);  // one past the table
  vq.publish(0xffff);
  uint16_t good = vq.add_chain({{0x10000, 16}});
  auto c = q.pop(m());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->head, good);
  expect_only(QueueFault::kDescIndexOutOfRange, 2);
  EXPECT_EQ(vq.used_idx(), 0);  // no valid id to give back
  EXPECT_FALSE(q.broken());
}

TEST_F(QueueTest, NextIndexOutOfRangeConsumesTheChain) {
  vq.set_desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, kSize + 3);
  vq.publish(0);
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kDescIndexOutOfRange, 1);
  ASSERT_EQ(vq.used_idx(), 1);
  expect_returned(0, 0);
}

TEST_F(QueueTest, DescriptorLoopIsDetected) {
  vq.set_desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
  vq.set_desc(1, 0x10010, 16, VIRTQ_DESC_F_NEXT, 2);
  vq.set_desc(2, 0x10020, 16, VIRTQ_DESC_F_NEXT, 0);
  vq.publish(0);
  vq.set_desc(5, 0x10000, 16, VIRTQ_DESC_F_NEXT, 5);  // points at itself
  vq.publish(5);
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kChainLoop, 2);
  ASSERT_EQ(vq.used_idx(), 2);
  expect_returned(0, 0);
  expect_returned(1, 5);
}

TEST_F(QueueTest, ChainLongerThanTheQueueIsRejected) {
  vq.configure(q, false, /*indirect=*/true);
  // One direct buffer plus a full table of 16: 17 buffers on a 16-entry queue.
  std::vector<VirtqDesc> table;
  for (uint16_t i = 0; i < kSize; ++i) {
    table.push_back({0x40000 + 16ull * i, 16, static_cast<uint16_t>(i + 1 < kSize ? VIRTQ_DESC_F_NEXT : 0),
                     static_cast<uint16_t>(i + 1)});
  }
  uint32_t len = vq.write_indirect_table(0x50000, table);
  vq.set_desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
  vq.set_desc(1, 0x50000, len, VIRTQ_DESC_F_INDIRECT);
  vq.publish(0);
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kChainTooLong, 1);
  expect_returned(0, 0);
}

TEST_F(QueueTest, BufferOutsideRamIsRejected) {
  vq.add_chain({{0x200000, 16}});                // beyond the 1 MiB of RAM
  vq.add_chain({{0xffff0, 0x20, true}});         // straddles the end of RAM
  vq.add_chain({{0x10000, 16}, {0x100000, 1}});  // second buffer starts at the end
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kBufferOutOfRam, 3);
  EXPECT_EQ(vq.used_idx(), 3);
}

TEST_F(QueueTest, BufferSpanningTwoRegionsIsRejected) {
  FakeGuestMemory two({{0, 0x80000}, {0x80000, 0x80000}});
  Queue q2(kSize, "two regions");
  auto vq2 = VirtqueueBuilder::at(two, kSize, kRings);
  vq2.configure(q2);
  vq2.add_chain({{0x7fff0, 0x20}});
  EXPECT_FALSE(q2.pop(two.memory()));
  EXPECT_EQ(q2.fault_count(QueueFault::kBufferOutOfRam), 1u);
}

TEST_F(QueueTest, WrappingBufferIsAnOverflow) {
  vq.add_chain({{0xffffffffffffff00ull, 0x200, true}});
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kBufferOverflow, 1);
  expect_returned(0, 0);
}

TEST_F(QueueTest, ReadableAfterWritableIsAnOrderingViolation) {
  vq.add_chain({{0x10000, 16, true}, {0x11000, 16, false}});
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kWriteBeforeRead, 1);
  expect_returned(0, 0);
}

TEST_F(QueueTest, BadChainIsConsumedAndTheNextOneStillServed) {
  vq.add_chain({{0x200000, 16}});
  uint16_t good = vq.add_chain({{0x10000, 32, true}});
  auto c = q.pop(m());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->head, good);
  q.add_used(m(), c->head, 32);
  ASSERT_EQ(vq.used_idx(), 2);
  expect_returned(0, 0);
  EXPECT_EQ(vq.used(1).id, good);
  EXPECT_EQ(vq.used(1).len, 32u);
}

TEST_F(QueueTest, MisalignedRingsBreakTheQueueOnce) {
  struct Case {
    uint64_t desc, avail, used;
  };
  for (Case c : {Case{kRings + 8, 0x2000, 0x3000}, Case{kRings, 0x2001, 0x3000}, Case{kRings, 0x2000, 0x3002}}) {
    Queue bad(kSize, "misaligned");
    VirtqueueBuilder(mem, kSize, c.desc, c.avail, c.used).configure(bad);
    EXPECT_FALSE(bad.pop(m()));
    EXPECT_FALSE(bad.pop(m()));
    EXPECT_TRUE(bad.broken());
    EXPECT_EQ(bad.fault_count(QueueFault::kRingMisaligned), 1u);
    EXPECT_EQ(bad.total_faults(), 1u);
  }
}

TEST_F(QueueTest, RingsOutsideRamBreakTheQueue) {
  Queue bad(kSize, "out of ram");
  // The used ring needs 6 + 8 * 16 bytes; only 16 are left below the end of RAM.
  VirtqueueBuilder(mem, kSize, kRings, 0x2000, 0xffff0).configure(bad);
  EXPECT_FALSE(bad.pop(m()));
  bad.add_used(m(), 0, 0);  // must not write anywhere
  EXPECT_TRUE(bad.broken());
  EXPECT_EQ(bad.fault_count(QueueFault::kRingOutOfRam), 1u);
  EXPECT_EQ(bad.total_faults(), 1u);
}

TEST_F(QueueTest, AvailIndexJumpBreaksTheQueueUntilReset) {
  vq.add_chain({{0x10000, 16}});
  vq.set_avail_idx(kSize + 1);  // 17 entries "available" on a 16-entry ring
  EXPECT_FALSE(q.pop(m()));
  EXPECT_TRUE(q.broken());
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kAvailIndexJump, 1);
  EXPECT_EQ(q.next_avail(), 0);

  q.reset();
  EXPECT_FALSE(q.broken());
  EXPECT_EQ(q.size(), kSize);
  EXPECT_FALSE(q.ready());
  vq.set_avail_idx(0);
  vq.configure(q);
  vq.add_chain({{0x10000, 16}});
  EXPECT_TRUE(q.pop(m()));
  EXPECT_EQ(q.fault_count(QueueFault::kAvailIndexJump), 1u);  // counters are cumulative
}

class IndirectTest : public QueueTest {
 protected:
  void SetUp() override { vq.configure(q, false, /*indirect=*/true); }
  static constexpr uint64_t kTable = 0x50000;
};

TEST_F(IndirectTest, TableIsParsedInOrder) {
  uint32_t len = vq.write_indirect_table(
      kTable,
      {{0x10000, 10, VIRTQ_DESC_F_NEXT, 2}, {0x30000, 30, VIRTQ_DESC_F_WRITE, 0}, {0x20000, 20, VIRTQ_DESC_F_NEXT, 1}});
  vq.set_desc(3, kTable, len, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE);  // WRITE is ignored here
  vq.publish(3);
  auto c = q.pop(m());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->head, 3);
  ASSERT_EQ(c->readable.size(), 2u);
  EXPECT_EQ(c->readable[0].addr, gmm::Gpa(0x10000));
  EXPECT_EQ(c->readable[1].addr, gmm::Gpa(0x20000));
  ASSERT_EQ(c->writable.size(), 1u);
  EXPECT_EQ(c->writable[0], (GuestBuffer{gmm::Gpa(0x30000), 30}));
  EXPECT_EQ(q.total_faults(), 0u);
}

TEST_F(IndirectTest, DirectBuffersMayPrecedeTheTable) {
  uint32_t len = vq.write_indirect_table(kTable, {{0x30000, 30, VIRTQ_DESC_F_WRITE, 0}});
  vq.set_desc(0, 0x10000, 10, VIRTQ_DESC_F_NEXT, 1);
  vq.set_desc(1, kTable, len, VIRTQ_DESC_F_INDIRECT);
  vq.publish(0);
  auto c = q.pop(m());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->readable.size(), 1u);
  EXPECT_EQ(c->writable.size(), 1u);
}

TEST_F(IndirectTest, RejectedWhenNotNegotiated) {
  vq.configure(q, false, /*indirect=*/false);
  uint32_t len = vq.write_indirect_table(kTable, {{0x10000, 10, 0, 0}});
  vq.set_desc(0, kTable, len, VIRTQ_DESC_F_INDIRECT);
  vq.publish(0);
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kIndirectNotNegotiated, 1);
  expect_returned(0, 0);
}

TEST_F(IndirectTest, NestedTableIsRejected) {
  uint32_t len =
      vq.write_indirect_table(kTable, {{0x10000, 10, VIRTQ_DESC_F_NEXT, 1}, {0x60000, 16, VIRTQ_DESC_F_INDIRECT, 0}});
  vq.set_desc(0, kTable, len, VIRTQ_DESC_F_INDIRECT);
  vq.publish(0);
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kIndirectNested, 1);
}

TEST_F(IndirectTest, IndirectWithNextIsRejected) {
  uint32_t len = vq.write_indirect_table(kTable, {{0x10000, 10, 0, 0}});
  vq.set_desc(0, kTable, len, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
  vq.set_desc(1, 0x10000, 10, 0);
  vq.publish(0);
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kIndirectWithNext, 1);
}

TEST_F(IndirectTest, BadTableSizesAreRejected) {
  vq.write_indirect_table(kTable, std::vector<VirtqDesc>(kSize + 1, VirtqDesc{0x10000, 1, 0, 0}));
  vq.set_desc(0, kTable, 24, VIRTQ_DESC_F_INDIRECT);                // not a multiple of 16
  vq.set_desc(1, kTable, 0, VIRTQ_DESC_F_INDIRECT);                 // empty
  vq.set_desc(2, kTable, 16 * (kSize + 1), VIRTQ_DESC_F_INDIRECT);  // more entries than the queue size
  vq.publish(0);
  vq.publish(1);
  vq.publish(2);
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kIndirectBadSize, 3);
  EXPECT_EQ(vq.used_idx(), 3);
}

TEST_F(IndirectTest, TableOutsideRamIsRejected) {
  vq.set_desc(0, 0xffff8, 32, VIRTQ_DESC_F_INDIRECT);
  vq.publish(0);
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kIndirectOutOfRam, 1);
}

TEST_F(IndirectTest, LoopAndBadNextInsideTheTable) {
  uint32_t loop =
      vq.write_indirect_table(kTable, {{0x10000, 10, VIRTQ_DESC_F_NEXT, 1}, {0x10010, 10, VIRTQ_DESC_F_NEXT, 0}});
  vq.set_desc(0, kTable, loop, VIRTQ_DESC_F_INDIRECT);
  vq.publish(0);
  uint32_t out = vq.write_indirect_table(kTable + 0x100, {{0x10000, 10, VIRTQ_DESC_F_NEXT, 2}, {0x10010, 10, 0, 0}});
  vq.set_desc(1, kTable + 0x100, out, VIRTQ_DESC_F_INDIRECT);
  vq.publish(1);
  EXPECT_FALSE(q.pop(m()));
  EXPECT_EQ(q.fault_count(QueueFault::kChainLoop), 1u);
  EXPECT_EQ(q.fault_count(QueueFault::kDescIndexOutOfRange), 1u);
  EXPECT_EQ(q.total_faults(), 2u);
}

TEST_F(IndirectTest, BuffersInsideTheTableAreChecked) {
  uint32_t len = vq.write_indirect_table(kTable, {{0x200000, 10, 0, 0}});
  vq.set_desc(0, kTable, len, VIRTQ_DESC_F_INDIRECT);
  vq.publish(0);
  EXPECT_FALSE(q.pop(m()));
  expect_only(QueueFault::kBufferOutOfRam, 1);
}

TEST_F(QueueTest, NotificationFollowsAvailFlagsWithoutEventIdx) {
  EXPECT_FALSE(q.needs_notification(m()));  // nothing used yet
  vq.add_chain({{0x10000, 4, true}});
  auto c = q.pop(m());
  q.add_used(m(), c->head, 4);
  EXPECT_TRUE(q.needs_notification(m()));
  EXPECT_FALSE(q.needs_notification(m()));  // nothing new since

  vq.set_avail_flags(VIRTQ_AVAIL_F_NO_INTERRUPT);
  vq.add_chain({{0x10000, 4, true}});
  c = q.pop(m());
  q.add_used(m(), c->head, 4);
  EXPECT_FALSE(q.needs_notification(m()));
}

TEST_F(QueueTest, NotificationFollowsUsedEventWithEventIdx) {
  vq.configure(q, /*event_idx=*/true);
  auto use_one = [&] {
    vq.add_chain({{0x10000, 4, true}});
    auto c = q.pop(m());
    ASSERT_TRUE(c);
    q.add_used(m(), c->head, 4);
  };
  use_one();
  EXPECT_TRUE(q.needs_notification(m()));  // first notification after reset is always sent
  vq.set_used_event(1);                    // "tell me when used idx passes 1"
  use_one();                               // used idx 1 -> 2
  EXPECT_TRUE(q.needs_notification(m()));
  vq.set_used_event(10);
  use_one();  // 2 -> 3
  EXPECT_FALSE(q.needs_notification(m()));
  vq.set_avail_flags(VIRTQ_AVAIL_F_NO_INTERRUPT);  // ignored with EVENT_IDX
  vq.set_used_event(3);
  use_one();  // 3 -> 4
  EXPECT_TRUE(q.needs_notification(m()));
  EXPECT_FALSE(q.needs_notification(m()));
}

TEST_F(QueueTest, AvailEventIsPublishedWhenTheRingRunsDry) {
  vq.configure(q, /*event_idx=*/true);
  vq.add_chain({{0x10000, 4}});
  vq.add_chain({{0x10000, 4}});
  EXPECT_TRUE(q.pop(m()));
  EXPECT_TRUE(q.pop(m()));
  EXPECT_FALSE(q.pop(m()));
  EXPECT_EQ(vq.avail_event(), 2);
}

// Seeded garbage: whatever the descriptor table and ring hold, pop() terminates, every
// available entry is consumed, every chain it returns lies in RAM, and every malformed
// chain with a valid head comes back to the driver.
TEST(QueueStress, RandomDescriptorTablesNeverEscapeRam) {
  std::mt19937_64 rng(0x7469646521ull);
  for (int round = 0; round < 200; ++round) {
    FakeGuestMemory mem({{0, 0x40000}});
    Queue q(64, "stress");
    auto vq = VirtqueueBuilder::at(mem, 64, 0x1000);
    vq.configure(q, round % 2 == 0, round % 3 != 0);
    for (uint16_t i = 0; i < 64; ++i) {
      uint64_t addr = rng() % 0x50000;  // some outside RAM
      auto len = static_cast<uint32_t>(rng() % 0x2000);
      auto flags = static_cast<uint16_t>(rng() % 8);
      auto next = static_cast<uint16_t>(rng() % 80);
      vq.set_desc(i, (rng() % 16 == 0) ? ~addr : addr, len, flags, next);
    }
    auto n = static_cast<uint16_t>(rng() % 65);
    uint16_t in_range = 0;
    for (uint16_t i = 0; i < n; ++i) {
      auto head = static_cast<uint16_t>(rng() % 70);
      if (head < 64) ++in_range;
      vq.publish(head);
    }
    uint16_t popped = 0;
    while (auto c = q.pop(mem.memory())) {
      for (const auto* list : {&c->readable, &c->writable}) {
        for (const GuestBuffer& b : *list) ASSERT_TRUE(mem.memory().contains(b.addr, b.len));
      }
      q.add_used(mem.memory(), c->head, 0);
      ++popped;
      ASSERT_TRUE(q.check_invariants());
    }
    EXPECT_EQ(q.next_avail(), n);
    EXPECT_EQ(vq.used_idx(), in_range);
    EXPECT_EQ(q.total_faults() + popped, n);
    EXPECT_FALSE(q.broken());
  }
}

}  // namespace
}  // namespace tide::dev
