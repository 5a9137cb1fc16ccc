// The PCI config space register file: identity, write masks, BAR sizing, capabilities.
#include "devices/pci/config_space.hpp"

#include <gtest/gtest.h>

#include "devices/le_bytes.hpp"
#include "devices/pci/bar_allocator.hpp"

namespace tide::dev {
namespace {

PciIdentity identity() {
  return PciIdentity{.vendor_id = 0x1af4,
                     .device_id = 0x1044,
                     .revision = 1,
                     .class_code = 0xff0000,
                     .subsystem_vendor_id = 0x1af4,
                     .subsystem_id = 0x1100};
}

uint32_t rd(const PciConfigSpace& c, uint32_t off, uint32_t width = 4) {
  std::array<uint8_t, 4> b{};
  c.read(off, std::span(b).first(width));
  return static_cast<uint32_t>(load_le(std::span(b).first(width)));
}

void wr(PciConfigSpace& c, uint32_t off, uint32_t value, uint32_t width = 4) {
  std::array<uint8_t, 4> b{};
  store_le(std::span(b).first(width), value);
  c.write(off, std::span(b).first(width));
}

TEST(PciConfigSpaceTest, HeaderIdentifiesTheFunction) {
  PciConfigSpace c(identity());
  EXPECT_EQ(rd(c, kPciVendorId), 0x10441af4u);
  EXPECT_EQ(rd(c, kPciRevisionId), 0xff000001u);  // class 0xff0000, revision 1
  EXPECT_EQ(rd(c, kPciSubsystemVendorId), 0x11001af4u);
  EXPECT_EQ(rd(c, kPciHeaderType, 1), 0u);
  EXPECT_EQ(rd(c, kPciInterruptPin, 1), 0u);
  EXPECT_EQ(rd(c, kPciStatus, 2) & kPciStatusCapabilitiesList, 0u);
  EXPECT_TRUE(c.check_invariants());
}

TEST(PciConfigSpaceTest, ReadOnlyRegistersIgnoreWrites) {
  PciConfigSpace c(identity());
  wr(c, kPciVendorId, 0xdeadbeef);
  wr(c, kPciRevisionId, 0x12345678);
  wr(c, kPciSubsystemVendorId, 0);
  wr(c, kPciStatus, 0xffff, 2);
  EXPECT_EQ(rd(c, kPciVendorId), 0x10441af4u);
  EXPECT_EQ(rd(c, kPciRevisionId), 0xff000001u);
  EXPECT_EQ(rd(c, kPciSubsystemVendorId), 0x11001af4u);
  EXPECT_EQ(rd(c, kPciStatus, 2), 0u);
  EXPECT_TRUE(c.check_invariants());
}

TEST(PciConfigSpaceTest, CommandAndScratchRegistersAreWritable) {
  PciConfigSpace c(identity());
  wr(c, kPciCommand, 0xffff, 2);
  EXPECT_EQ(c.command(), 0x0547);
  wr(c, kPciInterruptLine, 0x0b, 1);
  EXPECT_EQ(rd(c, kPciInterruptLine, 1), 0x0bu);
  wr(c, kPciCacheLineSize, 0x10, 1);
  EXPECT_EQ(rd(c, kPciCacheLineSize, 1), 0x10u);
}

TEST(PciConfigSpaceTest, Bar32SizingProtocol) {
  PciConfigSpace c(identity());
  c.define_bar(1, {.size_bytes = 0x1000, .kind = PciBarKind::kMemory32, .prefetchable = false});
  uint32_t bar = kPciBar0 + 4;
  EXPECT_EQ(rd(c, bar), 0u);
  wr(c, bar, 0xffffffff);
  EXPECT_EQ(rd(c, bar), 0xfffff000u);  // size mask, memory, 32-bit, not prefetchable
  wr(c, bar, 0xc0001000);
  EXPECT_EQ(rd(c, bar), 0xc0001000u);
  EXPECT_EQ(c.bar_address(1), 0xc0001000u);
  wr(c, bar, 0xc0001234);  // low bits below the size are hardwired to 0
  EXPECT_EQ(c.bar_address(1), 0xc0001000u);
  EXPECT_TRUE(c.check_invariants());
}

TEST(PciConfigSpaceTest, Bar64SizingProtocolCoversBothHalves) {
  PciConfigSpace c(identity());
  c.define_bar(0, {.size_bytes = 0x8000, .kind = PciBarKind::kMemory64, .prefetchable = true});
  EXPECT_EQ(rd(c, kPciBar0), 0xcu);  // 64-bit, prefetchable
  wr(c, kPciBar0, 0xffffffff);
  wr(c, kPciBar0 + 4, 0xffffffff);
  EXPECT_EQ(rd(c, kPciBar0), 0xffff800cu);
  EXPECT_EQ(rd(c, kPciBar0 + 4), 0xffffffffu);
  wr(c, kPciBar0, 0xd0000000);
  wr(c, kPciBar0 + 4, 0x1);
  EXPECT_EQ(c.bar_address(0), 0x1d0000000u);
  EXPECT_FALSE(c.bar_definition(1).implemented());  // the upper half is no BAR of its own
  EXPECT_TRUE(c.check_invariants());
}

TEST(PciConfigSpaceTest, IoBarSizing) {
  PciConfigSpace c(identity());
  c.define_bar(2, {.size_bytes = 0x20, .kind = PciBarKind::kIo, .prefetchable = false});
  wr(c, kPciBar0 + 8, 0xffffffff);
  EXPECT_EQ(rd(c, kPciBar0 + 8), 0xffffffe1u);
}

TEST(PciConfigSpaceTest, UnimplementedBarsReadZeroAfterSizing) {
  PciConfigSpace c(identity());
  for (uint32_t i = 0; i < kPciNumBars; ++i) {
    wr(c, kPciBar0 + 4 * i, 0xffffffff);
    EXPECT_EQ(rd(c, kPciBar0 + 4 * i), 0u);
  }
  wr(c, 0x30, 0xffffffff);  // expansion ROM: none
  EXPECT_EQ(rd(c, 0x30), 0u);
}

TEST(PciConfigSpaceTest, DecodeNeedsTheCommandBitAndAnAddress) {
  PciConfigSpace c(identity());
  c.define_bar(0, {.size_bytes = 0x1000, .kind = PciBarKind::kMemory32, .prefetchable = false});
  EXPECT_EQ(c.bar_decode_address(0), std::nullopt);
  wr(c, kPciBar0, 0xc0000000);
  EXPECT_EQ(c.bar_decode_address(0), std::nullopt);  // memory decoding off
  wr(c, kPciCommand, kPciCommandMemory, 2);
  EXPECT_EQ(c.bar_decode_address(0), 0xc0000000u);
  wr(c, kPciBar0, 0);
  EXPECT_EQ(c.bar_decode_address(0), std::nullopt);  // unassigned
  c.assign_bar(0, 0xc0004000);
  EXPECT_EQ(c.bar_decode_address(0), 0xc0004000u);
}

TEST(PciConfigSpaceTest, CapabilitiesFormAList) {
  PciConfigSpace c(identity());
  std::array<uint8_t, 6> a{0x09, 0xee, 1, 2, 3, 4};
  std::array<uint8_t, 6> a_mask{0xff, 0xff, 0, 0xff, 0, 0};
  std::array<uint8_t, 12> b{0x11};
  uint32_t first = c.add_capability(a, a_mask);
  uint32_t second = c.add_capability(b);
  EXPECT_EQ(first, 0x40u);
  EXPECT_EQ(second, 0x48u);  // dword aligned after 6 bytes
  EXPECT_EQ(rd(c, kPciCapabilitiesPointer, 1), 0x40u);
  EXPECT_NE(rd(c, kPciStatus, 2) & kPciStatusCapabilitiesList, 0u);
  EXPECT_EQ(rd(c, first, 2), 0x4809u);   // id, next
  EXPECT_EQ(rd(c, second, 2), 0x0011u);  // last: next = 0
  // The ID and next pointer stay read-only whatever the mask says; masked bytes are writable.
  wr(c, first, 0xffffffff);
  EXPECT_EQ(rd(c, first), 0xff014809u);
  EXPECT_TRUE(c.check_invariants());
}

TEST(PciConfigSpaceTest, ExtendedSpaceExistsOnlyWhenAsked) {
  PciConfigSpace conventional(identity());
  PciConfigSpace extended(identity(), PciConfigSpace::kExtendedSize);
  EXPECT_EQ(conventional.size(), 256u);
  EXPECT_EQ(extended.size(), 4096u);
  EXPECT_EQ(rd(conventional, 0x100), 0u);
  EXPECT_EQ(rd(extended, 0xffc), 0u);
}

TEST(BarAllocatorTest, NaturallyAlignedAndBounded) {
  BarAllocator a(0xc0000000, 0x10000);
  EXPECT_EQ(a.allocate(0x1000).value(), 0xc0000000u);
  EXPECT_EQ(a.allocate(0x100).value(), 0xc0001000u);
  EXPECT_EQ(a.allocate(0x8000).value(), 0xc0008000u);  // skips to its alignment
  EXPECT_TRUE(a.check_invariants());
  auto full = a.allocate(0x8000);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, std::make_error_code(std::errc::not_enough_memory));
  auto odd = a.allocate(0x300);
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code, std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(a.used_bytes(), 0x10000u);
  EXPECT_TRUE(a.check_invariants());
}

}  // namespace
}  // namespace tide::dev
