// Unit: BalloonDevice behind the real virtio-pci transport, driven through ECAM and BAR 0
// the way Linux's virtio_balloon probe does: feature negotiation (all, or a subset that
// renumbers the queues), queue set-up with MSI-X, the config interrupt on a new target,
// inflate through a doorbell, `actual` through the device config window, and a driver
// reset (status 0) that returns every page.
#include <gtest/gtest.h>

#include <memory>

#include "balloon/balloon_device.hpp"
#include "devices/pci/msix.hpp"
#include "devices/pci/pci_root.hpp"
#include "devices/virtio/virtio_pci.hpp"
#include "unit/balloon/balloon_harness.hpp"
#include "unit/devices/fake_doorbells.hpp"
#include "unit/devices/fake_interrupts.hpp"
#include "unit/devices/virtio_pci_driver.hpp"

namespace tide::balloon {
namespace {

using dev::test::FakeDoorbellRegistry;
using dev::test::FakeGuestMemory;
using dev::test::FakeInterruptController;
using dev::test::VirtioPciDriver;
using dev::test::VirtqueueBuilder;
using test::FakeBalloonBackend;
using test::kAllFeatures;
using test::kMiB;
using test::kMustTellHost;
using test::kReporting;

constexpr uint64_t kVersion1 = uint64_t{1} << dev::VIRTIO_F_VERSION_1;
constexpr uint8_t kSlot = 2;
constexpr uint16_t kQueueSize = 16;

class BalloonPciTest : public ::testing::Test {
 protected:
  FakeGuestMemory mem{{{0, 16 * kMiB}}};
  FakeBalloonBackend backend{{{0, (16 * kMiB) / 4096}}};
  FakeInterruptController irq;
  FakeDoorbellRegistry doorbells;
  dev::Bus mmio;
  std::shared_ptr<dev::PciRoot> root = std::make_shared<dev::PciRoot>(mmio);
  std::shared_ptr<BalloonDevice> balloon;
  std::shared_ptr<dev::VirtioPciDevice> transport;
  std::unique_ptr<VirtioPciDriver> driver;
  std::vector<VirtqueueBuilder> rings;

  void SetUp() override {
    BalloonFeatures f;
    f.deflate_on_oom = true;
    BalloonDeviceOptions o;
    o.features = f;
    balloon = std::make_shared<BalloonDevice>(backend, o);
    ASSERT_TRUE(mmio.insert(dev::PciEcam::kBase, dev::PciEcam::kSize, std::make_shared<dev::PciEcam>(root)));
    transport = dev::VirtioPciDevice::create(balloon, mem.memory(), irq, doorbells).value();
    ASSERT_TRUE(root->add_device(transport, kSlot));
    driver = std::make_unique<VirtioPciDriver>(mmio, kSlot);
  }
  void TearDown() override {
    EXPECT_TRUE(balloon->check_invariants());
    EXPECT_TRUE(backend.violations.empty());
  }

  // Linux's virtballoon_probe: negotiate, MSI-X (vector 0 for config, 1.. for queues), one
  // queue per negotiated role, DRIVER_OK.
  void bring_up(uint64_t features) {
    ASSERT_TRUE(driver->negotiate(features | kVersion1));
    driver->msix_control(dev::kMsixControlEnable | dev::kMsixControlFunctionMask);
    for (uint16_t v = 0; v < 5; ++v) driver->msix_program(v, 0xfee00000, 0x40 + v, false);
    driver->msix_control(dev::kMsixControlEnable);
    driver->common_write(dev::kCommonMsixConfig, 0, 2);
    rings.clear();
    for (uint16_t q = 0; queue_role(q, features) != QueueRole::kNone; ++q) {
      rings.push_back(VirtqueueBuilder::at(mem, kQueueSize, 0x10000 + 0x1000ull * q));
      const VirtqueueBuilder& r = rings.back();
      ASSERT_EQ(driver->setup_queue(q, kQueueSize, r.desc(), r.avail(), r.used(), static_cast<uint16_t>(q + 1)),
                kQueueSize);
    }
    driver->driver_ok();
    ASSERT_TRUE(transport->activated());
  }
  void kick(uint16_t queue) { ASSERT_TRUE(doorbells.ring(driver->notify_address(queue), 2, queue)); }
  uint64_t device_cfg(uint32_t off) {
    return driver->bar0() + driver->cap(dev::VIRTIO_PCI_CAP_DEVICE_CFG).offset + off;
  }
};

TEST_F(BalloonPciTest, OffersBalloonFeaturesAndQueues) {
  EXPECT_EQ(driver->cfg_read(dev::kPciDeviceId, 2), 0x1040u + 5);
  const uint64_t offered = driver->device_features();
  EXPECT_EQ(offered & kAllFeatures, kAllFeatures);
  EXPECT_NE(offered & kVersion1, 0u) << "the transport adds VERSION_1";
  EXPECT_EQ(driver->common_read(dev::kCommonNumQueues, 2), 4u);
  EXPECT_EQ(driver->cap(dev::VIRTIO_PCI_CAP_DEVICE_CFG).length, 16u);
}

TEST_F(BalloonPciTest, ALinuxLikeDriverInflatesToTheTarget) {
  bring_up(kAllFeatures);
  const int config_before = irq.msi(0).triggers;
  balloon->set_target_pages(3);
  EXPECT_EQ(irq.msi(0).triggers, config_before + 1) << "config interrupt on vector 0";
  EXPECT_EQ(driver->mmio_read(device_cfg(kConfigNumPages), 4), 3u);

  const uint64_t pfns = 0x200000;
  mem.put<uint32_t>(pfns, 100);
  mem.put<uint32_t>(pfns + 4, 101);
  mem.put<uint32_t>(pfns + 8, 102);
  rings[0].add_chain({{pfns, 12, false}});
  kick(0);
  EXPECT_EQ(rings[0].used_idx(), 1);
  EXPECT_EQ(irq.msi(1).triggers, 1) << "inflateq's vector";
  EXPECT_EQ(balloon->balloon_pages(), 3u);
  driver->mmio_write(device_cfg(kConfigActual), 3, 4);
  EXPECT_EQ(balloon->actual_pages(), 3u);
  EXPECT_EQ(driver->mmio_read(device_cfg(kConfigActual), 4), 3u);

  // A reset (status 0, as on driver unload or reboot) gives the pages back.
  driver->set_status(0);
  EXPECT_FALSE(transport->activated());
  EXPECT_EQ(balloon->balloon_pages(), 0u);
  EXPECT_TRUE(backend.ballooned.empty());
  EXPECT_EQ(balloon->counters().reset_deflated_pages, 3u);
}

TEST_F(BalloonPciTest, ADriverWithoutStatsNumbersReportingTwo) {
  bring_up(kMustTellHost | kReporting);
  EXPECT_EQ(balloon->status().negotiated_features, kMustTellHost | kReporting);
  ASSERT_EQ(rings.size(), 3u);
  rings[2].add_chain({{0x400000, 4 * 4096, true}});
  kick(2);
  EXPECT_EQ(rings[2].used_idx(), 1);
  EXPECT_EQ(balloon->counters().reported_pages, 4u);
  EXPECT_EQ(balloon->counters().fault(BalloonFault::kQueueUnused), 0u);
}

}  // namespace
}  // namespace tide::balloon
