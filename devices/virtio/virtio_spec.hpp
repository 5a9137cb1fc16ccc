// Constants and wire structures of the Virtio 1.2 specification (OASIS, 2022) that tide's
// virtio transport, queues and devices use. Names are the spec's own (or, where the spec
// gives none, Linux's uapi names); section numbers refer to virtio-v1.2. This header
// replaces <linux/virtio_*.h>: including both would redefine these names as macros.
#pragma once

#include <cstdint>

#if defined(VIRTIO_F_VERSION_1) || defined(VIRTIO_MSI_NO_VECTOR)
#error "devices/virtio/virtio_spec.hpp cannot be combined with <linux/virtio_*.h>"
#endif

namespace tide::dev {

// §2.1 Device Status Field.
inline constexpr uint8_t VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
inline constexpr uint8_t VIRTIO_CONFIG_S_DRIVER = 2;
inline constexpr uint8_t VIRTIO_CONFIG_S_DRIVER_OK = 4;
inline constexpr uint8_t VIRTIO_CONFIG_S_FEATURES_OK = 8;
inline constexpr uint8_t VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET = 64;
inline constexpr uint8_t VIRTIO_CONFIG_S_FAILED = 128;

// §6 Reserved Feature Bits (bit numbers). Linux calls the first two
// VIRTIO_RING_F_INDIRECT_DESC and VIRTIO_RING_F_EVENT_IDX.
inline constexpr uint32_t VIRTIO_F_INDIRECT_DESC = 28;
inline constexpr uint32_t VIRTIO_F_EVENT_IDX = 29;
inline constexpr uint32_t VIRTIO_F_VERSION_1 = 32;

[[nodiscard]] constexpr uint64_t virtio_feature(uint32_t bit) { return uint64_t{1} << bit; }

// §2.7.5 The Virtqueue Descriptor Table.
inline constexpr uint16_t VIRTQ_DESC_F_NEXT = 1;
inline constexpr uint16_t VIRTQ_DESC_F_WRITE = 2;
inline constexpr uint16_t VIRTQ_DESC_F_INDIRECT = 4;
// §2.7.6 The Virtqueue Available Ring; §2.7.8 The Virtqueue Used Ring.
inline constexpr uint16_t VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
inline constexpr uint16_t VIRTQ_USED_F_NO_NOTIFY = 1;

// §2.7: the queue size is a power of two, at most 32768; ring alignments (in bytes).
inline constexpr uint32_t kVirtqMaxSize = 32768;
inline constexpr uint64_t kVirtqDescAlign = 16;
inline constexpr uint64_t kVirtqAvailAlign = 2;
inline constexpr uint64_t kVirtqUsedAlign = 4;

// struct virtq_desc (§2.7.5), little-endian in guest memory (x86 hosts only).
struct VirtqDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);

// struct virtq_used_elem (§2.7.8).
struct VirtqUsedElem {
  uint32_t id;
  uint32_t len;
};
static_assert(sizeof(VirtqUsedElem) == 8);

// §4.1.2 PCI Device Discovery.
inline constexpr uint16_t kVirtioPciVendorId = 0x1af4;
inline constexpr uint16_t kVirtioPciModernDeviceIdBase = 0x1040;

// §4.1.4 Virtio Structure PCI Capabilities: cfg_type values.
inline constexpr uint8_t VIRTIO_PCI_CAP_COMMON_CFG = 1;
inline constexpr uint8_t VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
inline constexpr uint8_t VIRTIO_PCI_CAP_ISR_CFG = 3;
inline constexpr uint8_t VIRTIO_PCI_CAP_DEVICE_CFG = 4;
inline constexpr uint8_t VIRTIO_PCI_CAP_PCI_CFG = 5;
// struct virtio_pci_cap is 16 bytes; virtio_pci_notify_cap and virtio_pci_cfg_cap add 4.
inline constexpr uint32_t kVirtioPciCapLength = 16;
inline constexpr uint32_t kVirtioPciNotifyCapLength = 20;
inline constexpr uint32_t kVirtioPciCfgCapLength = 20;

// §4.1.4.3 struct virtio_pci_common_cfg field offsets.
inline constexpr uint32_t kCommonDeviceFeatureSelect = 0x00;
inline constexpr uint32_t kCommonDeviceFeature = 0x04;
inline constexpr uint32_t kCommonDriverFeatureSelect = 0x08;
inline constexpr uint32_t kCommonDriverFeature = 0x0c;
inline constexpr uint32_t kCommonMsixConfig = 0x10;
inline constexpr uint32_t kCommonNumQueues = 0x12;
inline constexpr uint32_t kCommonDeviceStatus = 0x14;
inline constexpr uint32_t kCommonConfigGeneration = 0x15;
inline constexpr uint32_t kCommonQueueSelect = 0x16;
inline constexpr uint32_t kCommonQueueSize = 0x18;
inline constexpr uint32_t kCommonQueueMsixVector = 0x1a;
inline constexpr uint32_t kCommonQueueEnable = 0x1c;
inline constexpr uint32_t kCommonQueueNotifyOff = 0x1e;
inline constexpr uint32_t kCommonQueueDesc = 0x20;
inline constexpr uint32_t kCommonQueueDriver = 0x28;
inline constexpr uint32_t kCommonQueueDevice = 0x30;
inline constexpr uint32_t kCommonCfgSize = 0x38;

// §4.1.4.5 ISR status bits; §4.1.5.1.2 MSI-X vector configuration.
inline constexpr uint8_t VIRTIO_PCI_ISR_QUEUE = 1;
inline constexpr uint8_t VIRTIO_PCI_ISR_CONFIG = 2;
inline constexpr uint16_t VIRTIO_MSI_NO_VECTOR = 0xffff;

// §5 Device Types (the ones tide has or plans).
inline constexpr uint32_t VIRTIO_ID_NET = 1;
inline constexpr uint32_t VIRTIO_ID_BLOCK = 2;
inline constexpr uint32_t VIRTIO_ID_CONSOLE = 3;
inline constexpr uint32_t VIRTIO_ID_RNG = 4;
inline constexpr uint32_t VIRTIO_ID_BALLOON = 5;

}  // namespace tide::dev
