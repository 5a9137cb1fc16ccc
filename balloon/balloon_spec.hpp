// Constants and wire layouts of the Traditional Memory Balloon Device (virtio-v1.2 §5.5).
// Names are the spec's own; where Linux's uapi header <linux/virtio_balloon.h> spells a
// name differently, the Linux name is an alias. Including both would redefine these names
// as macros, hence the guard below.
#pragma once

#include <cstdint>

#if defined(VIRTIO_BALLOON_F_MUST_TELL_HOST) || defined(VIRTIO_BALLOON_PFN_SHIFT)
#error "balloon/balloon_spec.hpp cannot be combined with <linux/virtio_balloon.h>"
#endif

namespace tide::balloon {

// §5.5.3 Feature bits (bit numbers).
inline constexpr uint32_t VIRTIO_BALLOON_F_MUST_TELL_HOST = 0;   // tell the host before reusing pages
inline constexpr uint32_t VIRTIO_BALLOON_F_STATS_VQ = 1;         // statsq exists
inline constexpr uint32_t VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2;   // the guest may deflate on OOM
inline constexpr uint32_t VIRTIO_BALLOON_F_FREE_PAGE_HINT = 3;   // free_page_vq (tide does not offer it)
inline constexpr uint32_t VIRTIO_BALLOON_F_PAGE_POISON = 4;      // poison_val (tide does not offer it)
inline constexpr uint32_t VIRTIO_BALLOON_F_PAGE_REPORTING = 5;   // reporting_vq
inline constexpr uint32_t VIRTIO_BALLOON_F_REPORTING = VIRTIO_BALLOON_F_PAGE_REPORTING;  // Linux's name

// §5.5.6: PFNs in inflate/deflate buffers are in 4 KiB units whatever the guest page size.
inline constexpr uint32_t VIRTIO_BALLOON_PFN_SHIFT = 12;
inline constexpr uint32_t kBalloonPfnBytes = 4;  // each PFN is a le32

// §5.5.4 struct virtio_balloon_config: four le32 fields.
inline constexpr uint32_t kConfigNumPages = 0;           // device: target pages in the balloon
inline constexpr uint32_t kConfigActual = 4;             // driver: pages in the balloon now
inline constexpr uint32_t kConfigFreePageHintCmdId = 8;  // only with FREE_PAGE_HINT; reads 0 here
inline constexpr uint32_t kConfigPoisonVal = 12;         // only with PAGE_POISON; reads 0 here
inline constexpr uint32_t kConfigSize = 16;

// §5.5.6.3 Memory Statistics: struct virtio_balloon_stat { le16 tag; le64 val; } packed.
inline constexpr uint16_t VIRTIO_BALLOON_S_SWAP_IN = 0;       // bytes swapped in
inline constexpr uint16_t VIRTIO_BALLOON_S_SWAP_OUT = 1;      // bytes swapped out
inline constexpr uint16_t VIRTIO_BALLOON_S_MAJFLT = 2;        // major faults
inline constexpr uint16_t VIRTIO_BALLOON_S_MINFLT = 3;        // minor faults
inline constexpr uint16_t VIRTIO_BALLOON_S_MEMFREE = 4;       // bytes not used for anything
inline constexpr uint16_t VIRTIO_BALLOON_S_MEMTOT = 5;        // bytes of memory the guest has
inline constexpr uint16_t VIRTIO_BALLOON_S_AVAIL = 6;         // bytes available without swapping
inline constexpr uint16_t VIRTIO_BALLOON_S_CACHES = 7;        // bytes quickly reclaimable (page cache)
inline constexpr uint16_t VIRTIO_BALLOON_S_HTLB_PGALLOC = 8;  // hugetlb allocations
inline constexpr uint16_t VIRTIO_BALLOON_S_HTLB_PGFAIL = 9;   // failed hugetlb allocations
inline constexpr uint16_t VIRTIO_BALLOON_S_NR = 10;
inline constexpr uint32_t kStatEntryBytes = 10;  // 2-byte tag + 8-byte value, no padding

}  // namespace tide::balloon
