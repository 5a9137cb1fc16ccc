// The MSI-X table on its own: routing only when unmasked, pending bits, function mask.
#include "devices/pci/msix.hpp"

#include <gtest/gtest.h>

#include "devices/le_bytes.hpp"
#include "devices/pci/config_space.hpp"
#include "unit/devices/fake_interrupts.hpp"

namespace tide::dev {
namespace {

using test::FakeInterruptController;

class MsixTest : public ::testing::Test {
 protected:
  FakeInterruptController irq;
  std::unique_ptr<MsixTable> table;

  void make(size_t n) {
    std::vector<std::unique_ptr<MsiVector>> v;
    for (size_t i = 0; i < n; ++i) v.push_back(std::move(irq.allocate_msi().value()));
    table = std::make_unique<MsixTable>(std::move(v));
  }
  void SetUp() override { make(4); }
  void TearDown() override { EXPECT_TRUE(table->check_invariants()); }
  void write32(uint64_t off, uint32_t value) {
    std::array<uint8_t, 4> b{};
    store_le(b, value);
    table->write_table(off, b);
  }
  uint64_t read_table(uint64_t off, size_t width) {
    std::array<uint8_t, 8> b{};
    table->read_table(off, std::span(b).first(width));
    return load_le(std::span(b).first(width));
  }
  uint64_t read_pba(uint64_t off) {
    std::array<uint8_t, 8> b{};
    table->read_pba(off, b);
    return load_le(b);
  }
  void program(uint16_t entry, uint64_t addr, uint32_t data) {
    write32(16ull * entry, static_cast<uint32_t>(addr));
    write32(16ull * entry + 4, static_cast<uint32_t>(addr >> 32));
    write32(16ull * entry + 8, data);
  }
  void mask(uint16_t entry, bool masked) { write32(16ull * entry + 12, masked ? 1 : 0); }
};

TEST_F(MsixTest, CapabilityEncodesSizeAndLocations) {
  auto cap = table->capability(0, 0x4000, 0x5000);
  EXPECT_EQ(cap[0], kPciCapIdMsix);
  EXPECT_EQ(load_le(std::span(cap).subspan(2, 2)), 3u);  // N - 1
  EXPECT_EQ(load_le(std::span(cap).subspan(4, 4)), 0x4000u);
  EXPECT_EQ(load_le(std::span(cap).subspan(8, 4)), 0x5000u);
  auto mask = MsixTable::capability_writable_mask();
  EXPECT_EQ(mask[3], 0xc0);  // enable and function mask only
  EXPECT_EQ(table->table_size_bytes(), 64u);
  EXPECT_EQ(table->pba_size_bytes(), 8u);
}

TEST_F(MsixTest, EntriesStartMaskedAndRoundTrip) {
  EXPECT_EQ(read_table(12, 4), 1u);
  program(2, 0x1fee01003ull, 0x45);  // address bits 1:0 are reserved
  EXPECT_EQ(read_table(32, 8), 0x1fee01000ull);
  EXPECT_EQ(read_table(40, 4), 0x45u);
  EXPECT_EQ(table->message(2), (MsiMessage{0x1fee01000ull, 0x45}));
  EXPECT_TRUE(table->entry_masked(2));
}

TEST_F(MsixTest, MessageReachesTheRouteOnlyWhenUnmaskedAndEnabled) {
  program(0, 0xfee00000, 0x30);
  mask(0, false);
  EXPECT_TRUE(irq.msi(0).messages.empty());  // MSI-X still disabled
  table->set_control(kMsixControlEnable);
  ASSERT_EQ(irq.msi(0).messages.size(), 1u);
  EXPECT_EQ(irq.msi(0).messages[0], (MsiMessage{0xfee00000, 0x30}));
  mask(0, true);
  mask(0, false);
  EXPECT_EQ(irq.msi(0).messages.size(), 1u);  // unchanged message: no new route
  write32(8, 0x31);                           // changed while live: pushed at once
  EXPECT_EQ(irq.msi(0).messages.size(), 2u);
  EXPECT_EQ(irq.msi(0).messages[1].data, 0x31u);
}

TEST_F(MsixTest, SignalsWhileMaskedArePendingUntilUnmask) {
  table->set_control(kMsixControlEnable);
  program(1, 0xfee00000, 0x41);
  EXPECT_TRUE(table->signal(1));
  EXPECT_TRUE(table->signal(1));
  EXPECT_TRUE(table->pending(1));
  EXPECT_EQ(read_pba(0), 0x2u);
  EXPECT_EQ(irq.msi(1).triggers, 0);
  mask(1, false);
  EXPECT_EQ(irq.msi(1).triggers, 1);
  EXPECT_FALSE(table->pending(1));
  EXPECT_EQ(read_pba(0), 0u);
  EXPECT_TRUE(table->signal(1));
  EXPECT_EQ(irq.msi(1).triggers, 2);
  EXPECT_EQ(table->counters().delivered, 2u);
  EXPECT_EQ(table->counters().set_pending, 1u);
}

TEST_F(MsixTest, FunctionMaskHoldsAllAndReleasesPending) {
  table->set_control(kMsixControlEnable | kMsixControlFunctionMask);
  for (uint16_t i = 0; i < 4; ++i) {
    program(i, 0xfee00000, 0x40 + i);
    mask(i, false);
  }
  table->signal(0);
  table->signal(3);
  EXPECT_EQ(irq.total_triggers(), 0);
  EXPECT_EQ(read_pba(0), 0b1001u);
  table->set_control(kMsixControlEnable);
  EXPECT_EQ(irq.msi(0).triggers, 1);
  EXPECT_EQ(irq.msi(3).triggers, 1);
  EXPECT_EQ(irq.total_triggers(), 2);
}

TEST_F(MsixTest, DisabledOrOutOfRangeSignalsDoNothing) {
  program(0, 0xfee00000, 0x30);
  mask(0, false);
  EXPECT_FALSE(table->signal(0));
  EXPECT_FALSE(table->pending(0));
  table->set_control(kMsixControlEnable);
  EXPECT_FALSE(table->signal(4));
  EXPECT_EQ(irq.total_triggers(), 0);
}

TEST_F(MsixTest, RouteFailureIsCountedAndRetried) {
  irq.fail_set_message(true);
  table->set_control(kMsixControlEnable);
  program(0, 0xfee00000, 0x30);
  mask(0, false);
  EXPECT_TRUE(table->signal(0));  // lost: no route
  EXPECT_EQ(irq.msi(0).triggers, 0);
  EXPECT_GE(table->counters().route_failures, 1u);
  irq.fail_set_message(false);
  EXPECT_TRUE(table->signal(0));
  EXPECT_EQ(irq.msi(0).triggers, 1);
  ASSERT_EQ(irq.msi(0).messages.size(), 1u);
}

TEST_F(MsixTest, OnlyDwordAndQwordAccesses) {
  std::array<uint8_t, 2> two{0xff, 0xff};
  table->write_table(12, two);
  EXPECT_EQ(read_table(12, 4), 1u);
  EXPECT_EQ(read_table(2, 2), 0u);
  EXPECT_EQ(read_table(4, 8), 0u);  // qword access must be qword aligned
  EXPECT_EQ(table->counters().malformed_accesses, 3u);
}

TEST_F(MsixTest, PbaCoversMoreThanSixtyFourEntries) {
  make(70);
  EXPECT_EQ(table->pba_size_bytes(), 16u);
  table->set_control(kMsixControlEnable);
  table->signal(69);
  table->signal(1);
  EXPECT_EQ(read_pba(0), 0x2u);
  EXPECT_EQ(read_pba(8), uint64_t{1} << 5);
  std::array<uint8_t, 4> hi{};
  table->read_pba(12, hi);
  EXPECT_EQ(load_le(hi), 0u);
}

}  // namespace
}  // namespace tide::dev
