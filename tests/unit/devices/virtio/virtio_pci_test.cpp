// The virtio-pci modern transport seen from a guest driver: identity and capabilities,
// the common config register file, the status state machine, doorbells following BAR 0,
// and MSI-X delivery with masking and pending bits.
#include "devices/virtio/virtio_pci.hpp"

#include <gtest/gtest.h>

#include "devices/pci/pci_root.hpp"
#include "unit/devices/fake_doorbells.hpp"
#include "unit/devices/fake_guest_memory.hpp"
#include "unit/devices/fake_interrupts.hpp"
#include "unit/devices/fake_virtio_device.hpp"
#include "unit/devices/virtio_pci_driver.hpp"

namespace tide::dev {
namespace {

using test::FakeDoorbellRegistry;
using test::FakeGuestMemory;
using test::FakeInterruptController;
using test::FakeVirtioDevice;
using test::VirtioPciDriver;

constexpr uint64_t kDeviceFeatureA = uint64_t{1} << 0;
constexpr uint64_t kDeviceFeatureB = uint64_t{1} << 1;
constexpr uint64_t kVersion1 = uint64_t{1} << VIRTIO_F_VERSION_1;
constexpr uint16_t kQueues = 3;
constexpr uint16_t kMaxSize = 64;
constexpr uint8_t kSlot = 1;

class VirtioPciTest : public ::testing::Test {
 protected:
  FakeGuestMemory mem{{{0, 2u << 20}}};
  FakeInterruptController irq;
  FakeDoorbellRegistry doorbells;
  Bus mmio;
  std::shared_ptr<PciRoot> root = std::make_shared<PciRoot>(mmio);
  std::shared_ptr<FakeVirtioDevice> dev =
      std::make_shared<FakeVirtioDevice>(VIRTIO_ID_CONSOLE, kDeviceFeatureA | kDeviceFeatureB, kQueues, kMaxSize, 8);
  std::shared_ptr<VirtioPciDevice> transport;
  std::unique_ptr<VirtioPciDriver> driver;

  void SetUp() override {
    ASSERT_TRUE(mmio.insert(PciEcam::kBase, PciEcam::kSize, std::make_shared<PciEcam>(root)));
    auto t = VirtioPciDevice::create(dev, mem.memory(), irq, doorbells);
    ASSERT_TRUE(t);
    transport = *t;
    ASSERT_EQ(root->add_device(transport, kSlot).value(), kSlot);
    driver = std::make_unique<VirtioPciDriver>(mmio, kSlot);
  }

  // Negotiates VERSION_1 (+ extra), sets up every queue at distinct addresses with
  // vector = queue index + 1, and sets DRIVER_OK.
  void bring_up(uint64_t extra = 0) {
    ASSERT_TRUE(driver->negotiate(kVersion1 | extra));
    for (uint16_t q = 0; q < kQueues; ++q) {
      uint64_t base = 0x10000 + 0x4000ull * q;
      driver->setup_queue(q, 16, base, base + 0x1000, base + 0x2000, static_cast<uint16_t>(q + 1));
    }
    driver->driver_ok();
    ASSERT_TRUE(transport->activated());
  }
  std::vector<uint64_t> expected_doorbells(uint64_t bar0) {
    std::vector<uint64_t> v;
    for (uint16_t q = 0; q < kQueues; ++q) v.push_back(bar0 + VirtioPciDevice::kNotifyOffset + 4ull * q);
    return v;
  }
};

TEST_F(VirtioPciTest, IdentifiesAsAModernVirtioDevice) {
  EXPECT_EQ(driver->cfg_read(kPciVendorId, 2), 0x1af4u);
  EXPECT_EQ(driver->cfg_read(kPciDeviceId, 2), 0x1040u + VIRTIO_ID_CONSOLE);
  EXPECT_EQ(driver->cfg_read(kPciRevisionId, 1), 1u);
  EXPECT_EQ(driver->cfg_read(kPciRevisionId, 4) >> 8, 0x078000u);
  EXPECT_EQ(driver->cfg_read(kPciSubsystemVendorId, 2), 0x1af4u);
  EXPECT_GE(driver->cfg_read(kPciSubsystemId, 2), 0x40u);
  EXPECT_EQ(driver->cfg_read(kPciHeaderType, 1), 0u);
  EXPECT_EQ(driver->cfg_read(kPciInterruptPin, 1), 0u);
  EXPECT_EQ(VirtioPciDevice::class_code_for(VIRTIO_ID_RNG), 0xff0000u);
  EXPECT_EQ(VirtioPciDevice::class_code_for(VIRTIO_ID_NET), 0x020000u);
  EXPECT_EQ(VirtioPciDevice::class_code_for(VIRTIO_ID_BLOCK), 0x018000u);
}

TEST_F(VirtioPciTest, Bar0Is64BitPrefetchableAndSizesTo32KiB) {
  uint64_t bar0 = *root->mapped_bar(kSlot, 0);
  EXPECT_EQ(driver->bar0(), bar0);
  EXPECT_EQ(bar0 % VirtioPciDevice::kBar0Size, 0u);
  EXPECT_EQ(driver->cfg_read(kPciBar0, 4) & 0xf, 0xcu);
  driver->cfg_write(kPciCommand, 0, 2);
  driver->cfg_write(kPciBar0, 0xffffffff, 4);
  driver->cfg_write(kPciBar0 + 4, 0xffffffff, 4);
  EXPECT_EQ(driver->cfg_read(kPciBar0, 4), 0xffff800cu);
  EXPECT_EQ(driver->cfg_read(kPciBar0 + 4, 4), 0xffffffffu);
}

TEST_F(VirtioPciTest, CapabilitiesDescribeTheBar0Layout) {
  struct Want {
    uint8_t type;
    uint32_t offset;
    uint32_t length;
  };
  for (Want w : {Want{VIRTIO_PCI_CAP_COMMON_CFG, 0x0000, 0x38}, Want{VIRTIO_PCI_CAP_ISR_CFG, 0x1000, 1},
                 Want{VIRTIO_PCI_CAP_DEVICE_CFG, 0x2000, 8}, Want{VIRTIO_PCI_CAP_NOTIFY_CFG, 0x3000, 4 * kQueues},
                 Want{VIRTIO_PCI_CAP_PCI_CFG, 0, 0}}) {
    ASSERT_TRUE(driver->has_cap(w.type)) << int(w.type);
    EXPECT_EQ(driver->cap(w.type).bar, 0) << int(w.type);
    EXPECT_EQ(driver->cap(w.type).offset, w.offset) << int(w.type);
    EXPECT_EQ(driver->cap(w.type).length, w.length) << int(w.type);
  }
  EXPECT_EQ(driver->notify_multiplier(), 4u);
  ASSERT_NE(driver->msix_cap(), 0u);
  uint32_t msix = driver->msix_cap();
  EXPECT_EQ(driver->cfg_read(msix + 2, 2) & 0x7ff, kQueues);  // N - 1 with N = queues + 1
  EXPECT_EQ(driver->cfg_read(msix + 4, 4), 0x4000u);          // table, BIR 0
  EXPECT_EQ(driver->cfg_read(msix + 8, 4), 0x5000u);          // PBA, BIR 0
  EXPECT_EQ(irq.msi_count(), kQueues + 1u);
}

TEST_F(VirtioPciTest, NoDeviceCapWithoutDeviceConfig) {
  auto bare = std::make_shared<FakeVirtioDevice>(VIRTIO_ID_RNG, 0, 1, 8, 0);
  auto t = VirtioPciDevice::create(bare, mem.memory(), irq, doorbells);
  ASSERT_TRUE(t);
  ASSERT_TRUE(root->add_device(*t, 2));
  VirtioPciDriver d(mmio, 2);
  EXPECT_FALSE(d.has_cap(VIRTIO_PCI_CAP_DEVICE_CFG));
  EXPECT_TRUE(d.has_cap(VIRTIO_PCI_CAP_COMMON_CFG));
}

TEST_F(VirtioPciTest, CommonConfigRegisters) {
  EXPECT_EQ(driver->device_features(), kDeviceFeatureA | kDeviceFeatureB | kVersion1 |
                                           (uint64_t{1} << VIRTIO_F_INDIRECT_DESC) |
                                           (uint64_t{1} << VIRTIO_F_EVENT_IDX));
  driver->common_write(kCommonDeviceFeatureSelect, 2, 4);
  EXPECT_EQ(driver->common_read(kCommonDeviceFeature, 4), 0u);
  EXPECT_EQ(driver->common_read(kCommonNumQueues, 2), kQueues);
  EXPECT_EQ(driver->common_read(kCommonMsixConfig, 2), VIRTIO_MSI_NO_VECTOR);
  for (uint16_t q = 0; q < kQueues; ++q) {
    driver->common_write(kCommonQueueSelect, q, 2);
    EXPECT_EQ(driver->common_read(kCommonQueueSize, 2), kMaxSize);
    EXPECT_EQ(driver->common_read(kCommonQueueNotifyOff, 2), q);
    EXPECT_EQ(driver->common_read(kCommonQueueEnable, 2), 0u);
    EXPECT_EQ(driver->common_read(kCommonQueueMsixVector, 2), VIRTIO_MSI_NO_VECTOR);
  }
  driver->common_write(kCommonQueueSelect, kQueues, 2);  // no such queue
  EXPECT_EQ(driver->common_read(kCommonQueueSize, 2), 0u);
  driver->common_write(kCommonQueueSelect, 1, 2);
  driver->common_write(kCommonQueueDesc, 0x12345000, 4);
  driver->common_write(kCommonQueueDesc + 4, 0x1, 4);
  driver->common_write(kCommonQueueDriver, 0x2000, 8);
  driver->common_write(kCommonQueueDevice, 0x3000, 8);
  EXPECT_EQ(driver->common_read(kCommonQueueDesc, 8), 0x112345000u);
  EXPECT_EQ(driver->common_read(kCommonQueueDesc + 4, 4), 0x1u);
  EXPECT_EQ(driver->common_read(kCommonQueueDriver, 4), 0x2000u);
  EXPECT_EQ(driver->common_read(kCommonQueueDevice, 8), 0x3000u);
  driver->common_write(kCommonQueueSize, 16, 2);
  EXPECT_EQ(driver->common_read(kCommonQueueSize, 2), 16u);
  driver->common_write(kCommonQueueSize, 24, 2);  // not a power of two: ignored
  EXPECT_EQ(driver->common_read(kCommonQueueSize, 2), 16u);
  EXPECT_EQ(transport->counters().driver_errors, 1u);
  // Read-only fields ignore writes.
  driver->common_write(kCommonNumQueues, 9, 2);
  driver->common_write(kCommonQueueNotifyOff, 9, 2);
  EXPECT_EQ(driver->common_read(kCommonNumQueues, 2), kQueues);
  EXPECT_EQ(driver->common_read(kCommonQueueNotifyOff, 2), 1u);
}

TEST_F(VirtioPciTest, VectorsOutsideTheTableReadBackAsNoVector) {
  driver->common_write(kCommonMsixConfig, 0, 2);
  EXPECT_EQ(driver->common_read(kCommonMsixConfig, 2), 0u);
  driver->common_write(kCommonMsixConfig, kQueues + 1, 2);  // table has queues + 1 entries
  EXPECT_EQ(driver->common_read(kCommonMsixConfig, 2), VIRTIO_MSI_NO_VECTOR);
  driver->common_write(kCommonQueueSelect, 2, 2);
  driver->common_write(kCommonQueueMsixVector, kQueues, 2);
  EXPECT_EQ(driver->common_read(kCommonQueueMsixVector, 2), kQueues);
  driver->common_write(kCommonQueueMsixVector, 0x800, 2);
  EXPECT_EQ(driver->common_read(kCommonQueueMsixVector, 2), VIRTIO_MSI_NO_VECTOR);
}

TEST_F(VirtioPciTest, StatusStateMachineActivatesAndResets) {
  driver->set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
  EXPECT_EQ(driver->status(), VIRTIO_CONFIG_S_ACKNOWLEDGE);
  driver->set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  driver->write_driver_features(kVersion1 | kDeviceFeatureB);
  driver->set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
  EXPECT_EQ(driver->status(), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
  driver->setup_queue(0, 16, 0x10000, 0x11000, 0x12000, 1);
  EXPECT_EQ(dev->activations(), 0);
  driver->driver_ok();
  EXPECT_EQ(driver->status(), 0x0f);
  ASSERT_EQ(dev->activations(), 1);
  EXPECT_TRUE(transport->activated());
  EXPECT_EQ(dev->activation().driver_features, kVersion1 | kDeviceFeatureB);
  EXPECT_EQ(dev->activation().memory, &mem.memory());
  ASSERT_EQ(dev->activation().queues.size(), kQueues);
  EXPECT_TRUE(dev->activation().queues[0]->ready());
  EXPECT_EQ(dev->activation().queues[0]->size(), 16);
  EXPECT_EQ(dev->activation().queues[0]->desc_table(), gmm::Gpa(0x10000));
  EXPECT_FALSE(dev->activation().queues[1]->ready());
  // Buffers queued before DRIVER_OK get looked at once the device runs.
  EXPECT_EQ(dev->notified(), std::vector<uint16_t>{0});

  driver->set_status(0);
  EXPECT_EQ(driver->status(), 0);
  EXPECT_FALSE(transport->activated());
  EXPECT_EQ(dev->resets(), 1);
  EXPECT_EQ(transport->driver_features(), 0u);
  driver->common_write(kCommonQueueSelect, 0, 2);
  EXPECT_EQ(driver->common_read(kCommonQueueSize, 2), kMaxSize);
  EXPECT_EQ(driver->common_read(kCommonQueueEnable, 2), 0u);
  EXPECT_EQ(driver->common_read(kCommonQueueDesc, 8), 0u);
  EXPECT_EQ(driver->common_read(kCommonQueueMsixVector, 2), VIRTIO_MSI_NO_VECTOR);
  EXPECT_EQ(doorbells.size(), 0u);
}

TEST_F(VirtioPciTest, FeaturesOkRefusedWithoutVersion1) {
  EXPECT_FALSE(driver->negotiate(kDeviceFeatureA));
  EXPECT_EQ(driver->status(), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  EXPECT_EQ(transport->counters().feature_rejections, 1u);
}

TEST_F(VirtioPciTest, FeaturesOkRefusedForFeaturesNotOffered) {
  EXPECT_FALSE(driver->negotiate(kVersion1 | (uint64_t{1} << 5)));
  EXPECT_FALSE(driver->negotiate(kVersion1 | (uint64_t{1} << 63)));
  EXPECT_EQ(transport->counters().feature_rejections, 2u);
  EXPECT_TRUE(driver->negotiate(kVersion1 | kDeviceFeatureA));
}

TEST_F(VirtioPciTest, DriverOkWithoutFeaturesOkDoesNotActivate) {
  EXPECT_FALSE(driver->negotiate(0));
  driver->set_status(driver->status() | VIRTIO_CONFIG_S_DRIVER_OK);
  EXPECT_EQ(driver->status() & VIRTIO_CONFIG_S_DRIVER_OK, 0);
  EXPECT_FALSE(transport->activated());
  EXPECT_EQ(dev->activations(), 0);
  EXPECT_EQ(transport->counters().driver_errors, 1u);
}

TEST_F(VirtioPciTest, FeaturesAndQueuesFreezeAtTheRightSteps) {
  ASSERT_TRUE(driver->negotiate(kVersion1));
  driver->write_driver_features(kVersion1 | kDeviceFeatureA);  // after FEATURES_OK: ignored
  EXPECT_EQ(transport->driver_features(), kVersion1);
  driver->setup_queue(0, 16, 0x10000, 0x11000, 0x12000);
  driver->common_write(kCommonQueueSize, 8, 2);  // queue enabled: frozen
  driver->common_write(kCommonQueueDesc, 0x40000, 8);
  EXPECT_EQ(driver->common_read(kCommonQueueSize, 2), 16u);
  EXPECT_EQ(driver->common_read(kCommonQueueDesc, 8), 0x10000u);
  EXPECT_EQ(transport->counters().driver_errors, 4u);  // two dword feature writes, size, desc
}

TEST_F(VirtioPciTest, ActivationFailureAsksForReset) {
  dev->fail_activation(true);
  ASSERT_TRUE(driver->negotiate(kVersion1));
  driver->driver_ok();
  EXPECT_FALSE(transport->activated());
  EXPECT_NE(driver->status() & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET, 0);
  EXPECT_EQ(driver->read_isr(), VIRTIO_PCI_ISR_CONFIG);  // config change, no vector chosen
  EXPECT_EQ(irq.wakes(), 1);
  dev->fail_activation(false);
  driver->set_status(0);
  EXPECT_EQ(driver->status(), 0);
}

TEST_F(VirtioPciTest, ADeviceThatNeedsAResetSaysSoUntilTheDriverResetsIt) {
  ASSERT_TRUE(driver->negotiate(kVersion1));
  driver->driver_ok();
  ASSERT_TRUE(transport->activated());
  EXPECT_EQ(driver->status() & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET, 0);
  dev->activation().interrupt->needs_reset();
  dev->activation().interrupt->needs_reset();  // once is enough: one config interrupt
  EXPECT_NE(driver->status() & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET, 0);
  EXPECT_NE(driver->status() & VIRTIO_CONFIG_S_DRIVER_OK, 0) << "the other bits stay";
  EXPECT_EQ(driver->read_isr(), VIRTIO_PCI_ISR_CONFIG);
  EXPECT_EQ(irq.wakes(), 1);
  driver->set_status(0);
  EXPECT_EQ(driver->status(), 0);
  ASSERT_TRUE(driver->negotiate(kVersion1));
  driver->driver_ok();
  EXPECT_EQ(driver->status() & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET, 0) << "a reset clears it";
}

TEST_F(VirtioPciTest, DeviceConfigSpaceIsBounded) {
  EXPECT_EQ(driver->device_cfg_read(0, 4), 0xc3c2c1c0u);
  EXPECT_EQ(driver->device_cfg_read(6, 2), 0xc7c6u);
  EXPECT_EQ(driver->device_cfg_read(6, 4), 0xc7c6u);  // bytes past the end read 0
  EXPECT_EQ(driver->device_cfg_read(0x100, 4), 0u);
  driver->mmio_write(driver->bar0() + VirtioPciDevice::kDeviceCfgOffset + 1, 0xaa, 1);
  EXPECT_EQ(dev->config()[1], 0xaa);
}

TEST_F(VirtioPciTest, DoorbellsPerQueueReachTheDevice) {
  bring_up();
  uint64_t bar0 = driver->bar0();
  EXPECT_EQ(doorbells.addresses(), expected_doorbells(bar0));
  for (const auto& [id, d] : doorbells.doorbells()) {
    EXPECT_EQ(d.len, 2u);
    EXPECT_FALSE(d.datamatch);
  }
  EXPECT_EQ(driver->notify_address(2), bar0 + 0x3008);
  dev->clear_notified();
  EXPECT_TRUE(doorbells.ring(bar0 + 0x3008, 2, 2));
  EXPECT_TRUE(doorbells.ring(bar0 + 0x3000, 2, 0));
  EXPECT_EQ(dev->notified(), (std::vector<uint16_t>{2, 0}));
  EXPECT_EQ(transport->counters().doorbell_notifies, 2u);
}

TEST_F(VirtioPciTest, DoorbellsBeforeDriverOkAreIgnored) {
  ASSERT_TRUE(driver->negotiate(kVersion1));
  driver->setup_queue(0, 16, 0x10000, 0x11000, 0x12000);
  ASSERT_EQ(doorbells.size(), 1u);  // registered when the queue was enabled
  EXPECT_TRUE(doorbells.ring(driver->bar0() + 0x3000, 2, 0));
  EXPECT_TRUE(dev->notified().empty());
}

TEST_F(VirtioPciTest, NotifyWritesAsMmioAreTheFallback) {
  bring_up();
  dev->clear_notified();
  uint64_t bar0 = driver->bar0();
  EXPECT_TRUE(driver->mmio_write(bar0 + 0x3004, 1, 4));  // a width no doorbell matches
  EXPECT_TRUE(driver->mmio_write(bar0 + 0x3008, 2, 2));  // as if KVM had no ioeventfd
  EXPECT_TRUE(driver->mmio_write(bar0 + 0x300c, 3, 2));  // no queue 3: ignored
  EXPECT_EQ(dev->notified(), (std::vector<uint16_t>{1, 2}));
  EXPECT_EQ(transport->counters().mmio_notifies, 2u);
}

TEST_F(VirtioPciTest, DoorbellFailureLeavesTheMmioPath) {
  doorbells.fail_adds(true);
  bring_up();
  EXPECT_EQ(doorbells.size(), 0u);
  EXPECT_EQ(transport->counters().doorbell_failures, kQueues);
  dev->clear_notified();
  EXPECT_TRUE(driver->notify(1));
  EXPECT_EQ(dev->notified(), std::vector<uint16_t>{1});
}

TEST_F(VirtioPciTest, DoorbellsFollowBar0) {
  bring_up();
  uint64_t old_bar = driver->bar0();
  uint64_t new_bar = 0xd0000000;
  driver->cfg_write(kPciBar0, new_bar, 4);
  driver->cfg_write(kPciBar0 + 4, 0, 4);
  EXPECT_EQ(root->mapped_bar(kSlot, 0), new_bar);
  EXPECT_EQ(doorbells.addresses(), expected_doorbells(new_bar));
  EXPECT_FALSE(doorbells.ring(old_bar + 0x3000, 2, 0));
  driver->discover();
  EXPECT_EQ(driver->common_read(kCommonNumQueues, 2), kQueues);  // registers moved too
  // Memory decoding off: no BAR, no doorbells; on again: back where the BAR is.
  uint64_t command = driver->cfg_read(kPciCommand, 2);
  driver->cfg_write(kPciCommand, command & ~uint64_t{kPciCommandMemory}, 2);
  EXPECT_EQ(doorbells.size(), 0u);
  driver->cfg_write(kPciCommand, command, 2);
  EXPECT_EQ(doorbells.addresses(), expected_doorbells(new_bar));
}

TEST_F(VirtioPciTest, MsixDeliversToTheQueuesVector) {
  bring_up();
  driver->msix_control(kMsixControlEnable);
  for (uint16_t v = 0; v <= kQueues; ++v) driver->msix_program(v, 0xfee00000 | (v << 12), 0x40 + v, false);
  for (uint16_t v = 0; v <= kQueues; ++v) {
    auto rec = irq.msi(v);
    ASSERT_EQ(rec.messages.size(), 1u) << v;  // pushed once, when complete and unmasked
    EXPECT_EQ(rec.messages[0], (MsiMessage{0xfee00000u | (v << 12), 0x40u + v}));
  }
  dev->interrupt_queue(1);  // queue 1 uses vector 2
  dev->interrupt_queue(1);
  dev->interrupt_queue(2);
  EXPECT_EQ(irq.msi(2).triggers, 2);
  EXPECT_EQ(irq.msi(3).triggers, 1);
  EXPECT_EQ(irq.total_triggers(), 3);
  EXPECT_EQ(driver->read_isr(), 0);
  EXPECT_EQ(irq.wakes(), 0);
  EXPECT_EQ(transport->counters().msix_interrupts, 3u);
}

TEST_F(VirtioPciTest, MaskedEntryLeavesAPendingBitUntilUnmasked) {
  bring_up();
  driver->msix_control(kMsixControlEnable);
  driver->msix_program(1, 0xfee00000, 0x41, /*masked=*/true);
  dev->interrupt_queue(0);  // vector 1
  dev->interrupt_queue(0);
  EXPECT_EQ(irq.msi(1).triggers, 0);
  EXPECT_EQ(driver->mmio_read(driver->msix_pba(), 8), 0x2u);
  driver->msix_mask(1, false);
  EXPECT_EQ(irq.msi(1).triggers, 1);  // one pending bit, one delivery
  EXPECT_EQ(driver->mmio_read(driver->msix_pba(), 8), 0u);
  EXPECT_EQ(driver->mmio_read(driver->msix_table() + 16 + 12, 4), 0u);
}

TEST_F(VirtioPciTest, FunctionMaskHoldsEveryVector) {
  bring_up();
  driver->msix_control(kMsixControlEnable | kMsixControlFunctionMask);
  for (uint16_t v = 0; v <= kQueues; ++v) driver->msix_program(v, 0xfee00000, 0x40 + v, false);
  dev->interrupt_queue(0);
  dev->interrupt_queue(2);
  EXPECT_EQ(irq.total_triggers(), 0);
  EXPECT_EQ(driver->mmio_read(driver->msix_pba(), 4), 0b1010u);
  driver->msix_control(kMsixControlEnable);
  EXPECT_EQ(irq.msi(1).triggers, 1);
  EXPECT_EQ(irq.msi(3).triggers, 1);
  EXPECT_EQ(driver->mmio_read(driver->msix_pba(), 4), 0u);
}

TEST_F(VirtioPciTest, WithoutAVectorTheIsrAndWakeupCarryTheNews) {
  bring_up();
  // MSI-X disabled: ISR + wake_vcpus.
  dev->interrupt_queue(0);
  EXPECT_EQ(irq.wakes(), 1);
  EXPECT_EQ(driver->read_isr(), VIRTIO_PCI_ISR_QUEUE);
  EXPECT_EQ(driver->read_isr(), 0);  // read-to-clear
  // MSI-X enabled but the driver chose VIRTIO_MSI_NO_VECTOR for the queue.
  driver->msix_control(kMsixControlEnable);
  driver->set_status(0);
  ASSERT_TRUE(driver->negotiate(kVersion1));
  driver->setup_queue(0, 16, 0x10000, 0x11000, 0x12000, VIRTIO_MSI_NO_VECTOR);
  driver->driver_ok();
  dev->interrupt_queue(0);
  EXPECT_EQ(irq.total_triggers(), 0);
  EXPECT_EQ(irq.wakes(), 2);
  EXPECT_EQ(driver->read_isr(), VIRTIO_PCI_ISR_QUEUE);
  EXPECT_EQ(transport->counters().isr_interrupts, 2u);
}

TEST_F(VirtioPciTest, ConfigChangeBumpsGenerationAndUsesTheConfigVector) {
  bring_up();
  auto gen = driver->common_read(kCommonConfigGeneration, 1);
  driver->msix_control(kMsixControlEnable);
  driver->msix_program(0, 0xfee00000, 0x30, false);
  driver->common_write(kCommonMsixConfig, 0, 2);
  dev->interrupt_config();
  EXPECT_EQ(driver->common_read(kCommonConfigGeneration, 1), (gen + 1) & 0xff);
  EXPECT_EQ(irq.msi(0).triggers, 1);
  driver->common_write(kCommonMsixConfig, VIRTIO_MSI_NO_VECTOR, 2);
  dev->interrupt_config();
  EXPECT_EQ(driver->read_isr(), VIRTIO_PCI_ISR_CONFIG);
}

TEST_F(VirtioPciTest, PciCfgCapabilityReachesBar0) {
  uint32_t cap = driver->cap(VIRTIO_PCI_CAP_PCI_CFG).config_offset;
  driver->cfg_write(cap + 4, 0, 1);                   // bar
  driver->cfg_write(cap + 8, kCommonNumQueues, 4);    // offset
  driver->cfg_write(cap + 12, 2, 4);                  // length
  EXPECT_EQ(driver->cfg_read(cap + 16, 2), kQueues);  // pci_cfg_data
  driver->cfg_write(cap + 8, kCommonDeviceStatus, 4);
  driver->cfg_write(cap + 12, 1, 4);
  driver->cfg_write(cap + 16, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
  EXPECT_EQ(driver->status(), VIRTIO_CONFIG_S_ACKNOWLEDGE);
  driver->cfg_write(cap + 12, 3, 4);  // bad length: ignored
  driver->cfg_write(cap + 16, 0, 1);
  EXPECT_EQ(driver->status(), VIRTIO_CONFIG_S_ACKNOWLEDGE);
  EXPECT_EQ(transport->counters().driver_errors, 1u);
}

TEST_F(VirtioPciTest, TeardownRemovesDoorbellsAndResetsTheDevice) {
  bring_up();
  ASSERT_EQ(doorbells.size(), kQueues);
  int resets = dev->resets();
  root.reset();  // drops the bus ranges and the last reference but ours
  transport.reset();
  EXPECT_EQ(doorbells.size(), 0u);
  EXPECT_EQ(dev->resets(), resets + 1);
}

TEST(VirtioPciCreateTest, RejectsBadDevicesAndSurfacesMsiErrors) {
  FakeGuestMemory mem;
  FakeInterruptController irq;
  FakeDoorbellRegistry doorbells;
  auto none = std::make_shared<FakeVirtioDevice>(VIRTIO_ID_RNG, 0, 0, 8);
  EXPECT_FALSE(VirtioPciDevice::create(none, mem.memory(), irq, doorbells));
  auto many = std::make_shared<FakeVirtioDevice>(VIRTIO_ID_RNG, 0, 256, 8);
  EXPECT_FALSE(VirtioPciDevice::create(many, mem.memory(), irq, doorbells));
  auto big = std::make_shared<FakeVirtioDevice>(VIRTIO_ID_RNG, 0, 1, 8, 0x1001);
  EXPECT_FALSE(VirtioPciDevice::create(big, mem.memory(), irq, doorbells));
  irq.limit_allocations(1);  // two needed for one queue
  auto ok_dev = std::make_shared<FakeVirtioDevice>(VIRTIO_ID_RNG, 0, 1, 8);
  auto r = VirtioPciDevice::create(ok_dev, mem.memory(), irq, doorbells);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::make_error_code(std::errc::no_space_on_device));
}

}  // namespace
}  // namespace tide::dev
