// PCI bus 0 through both configuration mechanisms: decoding, absent functions, the BAR
// sizing protocol, pre-assignment and BAR moves re-registering the MMIO bus.
#include "devices/pci/pci_root.hpp"

#include <gtest/gtest.h>

#include "devices/le_bytes.hpp"
#include "devices/pci/config_io.hpp"
#include "devices/pci/ecam.hpp"
#include "devices/pci/host_bridge.hpp"
#include "unit/devices/fake_pci_device.hpp"

namespace tide::dev {
namespace {

using test::FakePciDevice;

class PciRootTest : public ::testing::Test {
 protected:
  Bus mmio;
  Bus pio;
  std::shared_ptr<PciRoot> root = std::make_shared<PciRoot>(mmio, &pio);

  void SetUp() override {
    ASSERT_TRUE(pio.insert(PciConfigIo::kBase, PciConfigIo::kLength, std::make_shared<PciConfigIo>(root)));
    ASSERT_TRUE(mmio.insert(PciEcam::kBase, PciEcam::kSize, std::make_shared<PciEcam>(root)));
  }
  void TearDown() override { EXPECT_TRUE(root->check_invariants()); }

  static uint32_t cf8(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg) {
    return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
  }
  uint64_t port_read(uint64_t port, size_t width) {
    std::array<uint8_t, 8> b{};
    pio.read(port, std::span(b).first(width));
    return load_le(std::span(b).first(width));
  }
  void port_write(uint64_t port, uint64_t value, size_t width) {
    std::array<uint8_t, 8> b{};
    store_le(std::span(b).first(width), value);
    pio.write(port, std::span(b).first(width));
  }
  // Mechanism 1: address, then data at 0xCFC + (reg & 3).
  uint64_t cfg1_read(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg, size_t width = 4) {
    port_write(0xcf8, cf8(bus, dev, fn, reg), 4);
    return port_read(0xcfc + (reg & 3), width);
  }
  void cfg1_write(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg, uint64_t value, size_t width = 4) {
    port_write(0xcf8, cf8(bus, dev, fn, reg), 4);
    port_write(0xcfc + (reg & 3), value, width);
  }
  static uint64_t ecam(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg) {
    return PciEcam::kBase + (uint64_t{bus} << 20 | dev << 15 | fn << 12 | reg);
  }
  uint64_t mmio_read(uint64_t gpa, size_t width, bool* claimed = nullptr) {
    std::array<uint8_t, 8> b{};
    bool hit = mmio.read(gpa, std::span(b).first(width));
    if (claimed) *claimed = hit;
    return load_le(std::span(b).first(width));
  }
  void mmio_write(uint64_t gpa, uint64_t value, size_t width) {
    std::array<uint8_t, 8> b{};
    store_le(std::span(b).first(width), value);
    mmio.write(gpa, std::span(b).first(width));
  }
  std::shared_ptr<FakePciDevice> plug(std::vector<std::pair<uint32_t, PciBarDefinition>> bars,
                                      std::optional<uint8_t> slot = std::nullopt) {
    auto dev = std::make_shared<FakePciDevice>(std::move(bars));
    auto r = root->add_device(dev, slot);
    EXPECT_TRUE(r);
    return dev;
  }
};

constexpr PciBarDefinition kMem32_4k{.size_bytes = 0x1000, .kind = PciBarKind::kMemory32, .prefetchable = false};
constexpr PciBarDefinition kMem64_32k{.size_bytes = 0x8000, .kind = PciBarKind::kMemory64, .prefetchable = true};

TEST_F(PciRootTest, Mechanism1FindsTheHostBridge) {
  EXPECT_EQ(cfg1_read(0, 0, 0, kPciVendorId), 0x0d578086u);
  EXPECT_EQ(cfg1_read(0, 0, 0, kPciRevisionId) >> 8, 0x060000u);
  EXPECT_EQ(cfg1_read(0, 0, 0, kPciHeaderType, 1), 0u);
}

TEST_F(PciRootTest, Mechanism1DataPortsTakeAnyWidthAtAnyOffset) {
  EXPECT_EQ(cfg1_read(0, 0, 0, 0x00, 1), 0x86u);
  EXPECT_EQ(cfg1_read(0, 0, 0, 0x01, 1), 0x80u);
  EXPECT_EQ(cfg1_read(0, 0, 0, 0x02, 2), 0x0d57u);
  EXPECT_EQ(cfg1_read(0, 0, 0, 0x0b, 1), 0x06u);  // base class at 0xCFF
  port_write(0xcf8, cf8(0, 0, 0, 0), 4);
  EXPECT_EQ(port_read(0xcfd, 2), 0x5780u);  // bytes 1..2 of the dword
  cfg1_write(0, 0, 0, kPciInterruptLine, 0x0a, 1);
  EXPECT_EQ(cfg1_read(0, 0, 0, kPciInterruptLine, 1), 0x0au);
}

TEST_F(PciRootTest, Mechanism1AddressRegisterIsDwordOnly) {
  port_write(0xcf8, 0x80000000, 4);
  EXPECT_EQ(port_read(0xcf8, 4), 0x80000000u);
  port_write(0xcfb, 0x01, 1);  // Linux's type-1 probe pokes this byte; not an address write
  EXPECT_EQ(port_read(0xcf8, 4), 0x80000000u);
  EXPECT_EQ(port_read(0xcf8, 2), 0xffffu);
  port_write(0xcf8, 0x00000000, 4);  // enable bit clear: data reads all ones
  EXPECT_EQ(port_read(0xcfc, 4), 0xffffffffu);
}

TEST_F(PciRootTest, AbsentFunctionsReadAllOnes) {
  EXPECT_EQ(cfg1_read(0, 5, 0, 0), 0xffffffffu);  // empty slot
  EXPECT_EQ(cfg1_read(0, 0, 1, 0), 0xffffffffu);  // function 1
  EXPECT_EQ(cfg1_read(1, 0, 0, 0), 0xffffffffu);  // bus 1
  EXPECT_EQ(cfg1_read(0, 31, 7, 0, 2), 0xffffu);
  cfg1_write(0, 5, 0, kPciCommand, 0xffff, 2);  // dropped, no crash
  EXPECT_EQ(mmio_read(ecam(0, 5, 0, 0), 4), 0xffffffffu);
  EXPECT_EQ(mmio_read(ecam(0, 0, 3, 0), 4), 0xffffffffu);
  EXPECT_EQ(mmio_read(ecam(255, 31, 7, 0xffc), 4), 0xffffffffu);
}

TEST_F(PciRootTest, EcamDecodesBusDeviceFunctionRegister) {
  PciAddress a = PciEcam::decode_address(0x0abcdefc);
  EXPECT_EQ(a.bus, 0xab);
  EXPECT_EQ(a.device, (0xcdefc >> 15) & 0x1f);
  EXPECT_EQ(a.function, (0xcdefc >> 12) & 0x7);
  EXPECT_EQ(PciEcam::decode_register(0x0abcdefc), 0xefcu);
  a = PciEcam::decode_address((7u << 20) | (19u << 15) | (5u << 12));
  EXPECT_EQ(a.bus, 7);
  EXPECT_EQ(a.device, 19);
  EXPECT_EQ(a.function, 5);
}

TEST_F(PciRootTest, EcamReachesDevicesAndRegisters) {
  plug({}, 3);
  EXPECT_EQ(mmio_read(ecam(0, 0, 0, 0), 4), 0x0d578086u);
  EXPECT_EQ(mmio_read(ecam(0, 3, 0, 0), 4), 0x12341b36u);
  EXPECT_EQ(mmio_read(ecam(0, 3, 0, 2), 2), 0x1234u);
  EXPECT_EQ(mmio_read(ecam(0, 3, 0, 8), 1), 0x02u);  // revision
  // Extended space of a conventional function reads 0 (no extended capabilities).
  EXPECT_EQ(mmio_read(ecam(0, 3, 0, 0x100), 4), 0u);
  EXPECT_EQ(mmio_read(ecam(0, 3, 0, 0xffc), 4), 0u);
}

TEST_F(PciRootTest, MalformedConfigAccessesReadOnesAndAreCounted) {
  EXPECT_EQ(mmio_read(ecam(0, 0, 0, 0), 8), 0xffffffffffffffffull);  // no 8-byte config cycles
  EXPECT_EQ(mmio_read(ecam(0, 0, 0, 3), 2), 0xffffu);                // crosses a dword
  EXPECT_EQ(root->malformed_config_accesses(), 2u);
}

TEST_F(PciRootTest, BarsArePreassignedNaturallyAlignedInTheWindow) {
  auto a = plug({{0, kMem32_4k}});
  auto b = plug({{0, kMem64_32k}, {2, kMem32_4k}});
  auto a0 = root->mapped_bar(1, 0);
  auto b0 = root->mapped_bar(2, 0);
  auto b2 = root->mapped_bar(2, 2);
  ASSERT_TRUE(a0 && b0 && b2);
  for (auto [addr, size] : {std::pair{*a0, 0x1000ull}, std::pair{*b0, 0x8000ull}, std::pair{*b2, 0x1000ull}}) {
    EXPECT_GE(addr, PciRoot::kMmio32Base);
    EXPECT_LE(addr + size, PciRoot::kMmio32Base + PciRoot::kMmio32Size);
    EXPECT_EQ(addr % size, 0u);
  }
  // The guest sees them programmed and decoding.
  EXPECT_EQ(cfg1_read(0, 2, 0, kPciBar0), (*b0 & 0xffffffffu) | 0xcu);
  EXPECT_EQ(cfg1_read(0, 2, 0, kPciBar0 + 4), *b0 >> 32);
  EXPECT_NE(cfg1_read(0, 2, 0, kPciCommand, 2) & kPciCommandMemory, 0u);
  // MMIO at the BAR reaches the device with the offset inside the BAR.
  EXPECT_EQ(mmio_read(*b2 + 0x10, 4), 0x02000010u);
  mmio_write(*b0 + 0x7f8, 0x55, 8);
  ASSERT_EQ(b->accesses().size(), 2u);
  EXPECT_EQ(b->accesses()[1].bar, 0u);
  EXPECT_EQ(b->accesses()[1].offset, 0x7f8u);
  EXPECT_EQ(b->accesses()[1].value, 0x55u);
  EXPECT_TRUE(a->accesses().empty());
  ASSERT_EQ(b->mapped_calls().size(), 2u);
}

TEST_F(PciRootTest, SizingProtocolThroughEcam) {
  plug({{0, kMem64_32k}, {2, kMem32_4k}}, 1);
  uint64_t bar2 = ecam(0, 1, 0, kPciBar0 + 8);
  uint64_t original = mmio_read(bar2, 4);
  mmio_write(bar2, 0xffffffff, 4);
  EXPECT_EQ(mmio_read(bar2, 4), 0xfffff000u);
  mmio_write(bar2, original, 4);
  EXPECT_EQ(mmio_read(bar2, 4), original);
  mmio_write(ecam(0, 1, 0, kPciBar0), 0xffffffff, 4);
  mmio_write(ecam(0, 1, 0, kPciBar0 + 4), 0xffffffff, 4);
  EXPECT_EQ(mmio_read(ecam(0, 1, 0, kPciBar0), 4), 0xffff800cu);
  EXPECT_EQ(mmio_read(ecam(0, 1, 0, kPciBar0 + 4), 4), 0xffffffffu);
}

TEST_F(PciRootTest, SizingWithDecodingOnComesBackToTheSameRange) {
  auto dev = plug({{0, kMem64_32k}}, 1);
  uint64_t addr = *root->mapped_bar(1, 0);
  // What a simple guest does: size both halves without turning decoding off, restore.
  cfg1_write(0, 1, 0, kPciBar0, 0xffffffff);
  EXPECT_EQ(root->mapped_bar(1, 0), 0xffff8000u);  // real hardware would decode there too
  cfg1_write(0, 1, 0, kPciBar0 + 4, 0xffffffff);
  EXPECT_EQ(root->mapped_bar(1, 0), std::nullopt);  // wraps past 2^64: decodes nothing
  cfg1_write(0, 1, 0, kPciBar0, addr & 0xffffffffu);
  cfg1_write(0, 1, 0, kPciBar0 + 4, addr >> 32);
  EXPECT_EQ(root->mapped_bar(1, 0), addr);
  EXPECT_EQ(root->bar_map_failures(), 0u);
  EXPECT_EQ(dev->mapped_calls().back().second, addr);
}

TEST_F(PciRootTest, MovingABarReRegistersTheBusRange) {
  auto dev = plug({{0, kMem32_4k}}, 1);
  uint64_t old_addr = *root->mapped_bar(1, 0);
  uint64_t new_addr = 0xd0000000;
  cfg1_write(0, 1, 0, kPciBar0, new_addr);
  EXPECT_EQ(root->mapped_bar(1, 0), new_addr);
  bool claimed = true;
  mmio_read(old_addr, 4, &claimed);
  EXPECT_FALSE(claimed);
  EXPECT_EQ(mmio_read(new_addr + 4, 4, &claimed), 0x00000004u);
  EXPECT_TRUE(claimed);
  auto calls = dev->mapped_calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], (std::pair<uint32_t, std::optional<uint64_t>>{0, old_addr}));
  EXPECT_EQ(calls[1], (std::pair<uint32_t, std::optional<uint64_t>>{0, new_addr}));
  EXPECT_TRUE(dev->check_invariants());
}

TEST_F(PciRootTest, MemoryDecodeBitUnmapsAndRemaps) {
  auto dev = plug({{0, kMem32_4k}}, 1);
  uint64_t addr = *root->mapped_bar(1, 0);
  uint64_t command = cfg1_read(0, 1, 0, kPciCommand, 2);
  cfg1_write(0, 1, 0, kPciCommand, command & ~uint64_t{kPciCommandMemory}, 2);
  EXPECT_EQ(root->mapped_bar(1, 0), std::nullopt);
  bool claimed = true;
  mmio_read(addr, 4, &claimed);
  EXPECT_FALSE(claimed);
  // Sizing with decoding off (what Linux does) never touches the bus.
  cfg1_write(0, 1, 0, kPciBar0, 0xffffffff);
  cfg1_write(0, 1, 0, kPciBar0, addr);
  EXPECT_EQ(root->mapped_bar(1, 0), std::nullopt);
  cfg1_write(0, 1, 0, kPciCommand, command, 2);
  EXPECT_EQ(root->mapped_bar(1, 0), addr);
  auto calls = dev->mapped_calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1].second, std::nullopt);
  EXPECT_EQ(calls[2].second, addr);
}

TEST_F(PciRootTest, OverlappingBarIsCountedAndMapsOnceFree) {
  auto a = plug({{0, kMem32_4k}}, 1);
  auto b = plug({{0, kMem32_4k}}, 2);
  uint64_t a_addr = *root->mapped_bar(1, 0);
  uint64_t b_addr = *root->mapped_bar(2, 0);
  cfg1_write(0, 2, 0, kPciBar0, a_addr);  // the guest puts b on top of a
  EXPECT_EQ(root->mapped_bar(2, 0), std::nullopt);
  EXPECT_EQ(root->mapped_bar(1, 0), a_addr);
  EXPECT_EQ(root->bar_map_failures(), 1u);
  cfg1_write(0, 1, 0, kPciBar0, b_addr);  // ... then moves a out of the way
  EXPECT_EQ(root->mapped_bar(1, 0), b_addr);
  EXPECT_EQ(root->mapped_bar(2, 0), a_addr);
  EXPECT_EQ(mmio_read(a_addr, 4), 0u);  // b answers at a's old place (offset 0, BAR 0)
  EXPECT_EQ(b->accesses().size(), 1u);
}

TEST_F(PciRootTest, SlotsAreCheckedAndRunOut) {
  auto dev = std::make_shared<FakePciDevice>(std::vector<std::pair<uint32_t, PciBarDefinition>>{});
  EXPECT_FALSE(root->add_device(dev, 0));   // host bridge
  EXPECT_FALSE(root->add_device(dev, 32));  // out of range
  EXPECT_FALSE(root->add_device(nullptr));
  for (int i = 1; i < 32; ++i) {
    auto r = root->add_device(std::make_shared<FakePciDevice>(std::vector<std::pair<uint32_t, PciBarDefinition>>{}));
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, i);
  }
  auto full = root->add_device(dev);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, std::make_error_code(std::errc::device_or_resource_busy));
}

TEST_F(PciRootTest, FullWindowLeavesNoTrace) {
  Bus small_bus;
  PciRoot small(small_bus, nullptr, 0xc0000000, 0x10000);
  auto big = std::make_shared<FakePciDevice>(std::vector<std::pair<uint32_t, PciBarDefinition>>{
      {0, kMem32_4k}, {1, {.size_bytes = 0x10000, .kind = PciBarKind::kMemory32, .prefetchable = false}}});
  auto r = small.add_device(big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::make_error_code(std::errc::not_enough_memory));
  EXPECT_EQ(small.device_at(1), nullptr);
  auto fits = std::make_shared<FakePciDevice>(std::vector<std::pair<uint32_t, PciBarDefinition>>{
      {0, {.size_bytes = 0x10000, .kind = PciBarKind::kMemory32, .prefetchable = false}}});
  ASSERT_TRUE(small.add_device(fits));
  EXPECT_EQ(small.mapped_bar(1, 0), 0xc0000000u);
  EXPECT_TRUE(small.check_invariants());
}

TEST_F(PciRootTest, DestroyingTheRootFreesItsRangesAndSilencesConfigAccess) {
  Bus bus;
  Bus ports;
  {
    auto temp = std::make_shared<PciRoot>(bus);
    ASSERT_TRUE(temp->add_device(
        std::make_shared<FakePciDevice>(std::vector<std::pair<uint32_t, PciBarDefinition>>{{0, kMem32_4k}})));
    ASSERT_TRUE(ports.insert(PciConfigIo::kBase, PciConfigIo::kLength, std::make_shared<PciConfigIo>(temp)));
    std::array<uint8_t, 4> probe{};
    EXPECT_TRUE(bus.read(PciRoot::kMmio32Base, probe));
  }
  std::array<uint8_t, 4> probe{};
  EXPECT_FALSE(bus.read(PciRoot::kMmio32Base, probe));
  std::array<uint8_t, 4> addr{0x00, 0x00, 0x00, 0x80};
  ports.write(0xcf8, addr);
  ports.read(0xcfc, probe);
  EXPECT_EQ(load_le(probe), 0xffffffffu);
}

}  // namespace
}  // namespace tide::dev
