// Constants and layouts from the VIRTIO 1.2 specification (spec names kept): device
// status bits, feature bits, the virtio-pci capability structures and the split
// virtqueue rings. Little-endian throughout, which is also x86's order.
#pragma once

#include <cstdint>

namespace tg::virtio {

// 2.1 Device Status Field
inline constexpr uint8_t VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
inline constexpr uint8_t VIRTIO_CONFIG_S_DRIVER = 2;
inline constexpr uint8_t VIRTIO_CONFIG_S_DRIVER_OK = 4;
inline constexpr uint8_t VIRTIO_CONFIG_S_FEATURES_OK = 8;
inline constexpr uint8_t VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
inline constexpr uint8_t VIRTIO_CONFIG_S_FAILED = 0x80;

// 6 Reserved Feature Bits
inline constexpr unsigned VIRTIO_F_INDIRECT_DESC = 28;
inline constexpr unsigned VIRTIO_F_EVENT_IDX = 29;
inline constexpr unsigned VIRTIO_F_VERSION_1 = 32;

// 4.1.2 PCI Device Discovery
inline constexpr uint16_t VIRTIO_PCI_VENDOR_ID = 0x1af4;
inline constexpr uint16_t VIRTIO_PCI_MODERN_DEVICE_BASE = 0x1040;
inline constexpr uint16_t VIRTIO_PCI_TRANSITIONAL_FIRST = 0x1000;
inline constexpr uint16_t VIRTIO_PCI_TRANSITIONAL_LAST = 0x103f;

// 4.1.4 Virtio Structure PCI Capabilities: cfg_type values
inline constexpr uint8_t VIRTIO_PCI_CAP_COMMON_CFG = 1;
inline constexpr uint8_t VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
inline constexpr uint8_t VIRTIO_PCI_CAP_ISR_CFG = 3;
inline constexpr uint8_t VIRTIO_PCI_CAP_DEVICE_CFG = 4;
inline constexpr uint8_t VIRTIO_PCI_CAP_PCI_CFG = 5;

// struct virtio_pci_cap field offsets within the capability.
inline constexpr uint8_t VIRTIO_PCI_CAP_CFG_TYPE = 3;
inline constexpr uint8_t VIRTIO_PCI_CAP_BAR = 4;
inline constexpr uint8_t VIRTIO_PCI_CAP_OFFSET = 8;
inline constexpr uint8_t VIRTIO_PCI_CAP_LENGTH = 12;
inline constexpr uint8_t VIRTIO_PCI_NOTIFY_CAP_MULT = 16;

// 4.1.4.3 struct virtio_pci_common_cfg field offsets.
inline constexpr uint16_t VIRTIO_PCI_COMMON_DFSELECT = 0x00;
inline constexpr uint16_t VIRTIO_PCI_COMMON_DF = 0x04;
inline constexpr uint16_t VIRTIO_PCI_COMMON_GFSELECT = 0x08;
inline constexpr uint16_t VIRTIO_PCI_COMMON_GF = 0x0c;
inline constexpr uint16_t VIRTIO_PCI_COMMON_MSIX = 0x10;
inline constexpr uint16_t VIRTIO_PCI_COMMON_NUMQ = 0x12;
inline constexpr uint16_t VIRTIO_PCI_COMMON_STATUS = 0x14;
inline constexpr uint16_t VIRTIO_PCI_COMMON_CFGGENERATION = 0x15;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_SELECT = 0x16;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_SIZE = 0x18;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_MSIX = 0x1a;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_ENABLE = 0x1c;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_NOFF = 0x1e;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_DESCLO = 0x20;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_DESCHI = 0x24;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_AVAILLO = 0x28;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_AVAILHI = 0x2c;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_USEDLO = 0x30;
inline constexpr uint16_t VIRTIO_PCI_COMMON_Q_USEDHI = 0x34;
inline constexpr uint16_t VIRTIO_MSI_NO_VECTOR = 0xffff;

// 2.7 Split Virtqueues
inline constexpr uint16_t VIRTQ_DESC_F_NEXT = 1;
inline constexpr uint16_t VIRTQ_DESC_F_WRITE = 2;
inline constexpr uint16_t VIRTQ_DESC_F_INDIRECT = 4;

struct virtq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

struct virtq_avail {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[];  // queue size entries, then used_event
};

struct virtq_used_elem {
  uint32_t id;
  uint32_t len;
};

struct virtq_used {
  uint16_t flags;
  uint16_t idx;
  virtq_used_elem ring[];  // queue size entries, then avail_event
};

// 5 Device Types
inline constexpr uint16_t VIRTIO_ID_RNG = 4;
inline constexpr uint16_t VIRTIO_ID_BALLOON = 5;

// 5.5 Traditional Memory Balloon Device
// 5.5.3 Feature bits
inline constexpr unsigned VIRTIO_BALLOON_F_MUST_TELL_HOST = 0;
inline constexpr unsigned VIRTIO_BALLOON_F_STATS_VQ = 1;
inline constexpr unsigned VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2;
inline constexpr unsigned VIRTIO_BALLOON_F_FREE_PAGE_HINT = 3;
inline constexpr unsigned VIRTIO_BALLOON_F_PAGE_POISON = 4;
inline constexpr unsigned VIRTIO_BALLOON_F_PAGE_REPORTING = 5;
// 5.5.4 struct virtio_balloon_config (le32 fields)
inline constexpr uint32_t VIRTIO_BALLOON_CONFIG_NUM_PAGES = 0;
inline constexpr uint32_t VIRTIO_BALLOON_CONFIG_ACTUAL = 4;
// 5.5.6: PFNs are le32 in 4 KiB units whatever the page size.
inline constexpr unsigned VIRTIO_BALLOON_PFN_SHIFT = 12;
// 5.5.6.3 struct virtio_balloon_stat { le16 tag; le64 val; } (packed, 10 bytes)
inline constexpr uint16_t VIRTIO_BALLOON_S_SWAP_IN = 0;
inline constexpr uint16_t VIRTIO_BALLOON_S_SWAP_OUT = 1;
inline constexpr uint16_t VIRTIO_BALLOON_S_MAJFLT = 2;
inline constexpr uint16_t VIRTIO_BALLOON_S_MINFLT = 3;
inline constexpr uint16_t VIRTIO_BALLOON_S_MEMFREE = 4;
inline constexpr uint16_t VIRTIO_BALLOON_S_MEMTOT = 5;
inline constexpr uint16_t VIRTIO_BALLOON_S_AVAIL = 6;
inline constexpr uint16_t VIRTIO_BALLOON_S_CACHES = 7;
inline constexpr uint16_t VIRTIO_BALLOON_S_HTLB_PGALLOC = 8;
inline constexpr uint16_t VIRTIO_BALLOON_S_HTLB_PGFAIL = 9;
inline constexpr uint16_t VIRTIO_BALLOON_S_NR = 10;

struct __attribute__((packed)) virtio_balloon_stat {
  uint16_t tag;
  uint64_t val;
};
static_assert(sizeof(virtio_balloon_stat) == 10);

}  // namespace tg::virtio
