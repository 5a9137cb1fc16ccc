// VirtioBalloon: the traditional memory balloon driver (VIRTIO 1.2, 5.5; device type 5),
// behaving like Linux's drivers/virtio/virtio_balloon.c with mm/page_reporting.c and
// balloon compaction. See README.md ("The balloon driver") for the full description.
//
// - Features: VERSION_1 plus MUST_TELL_HOST, STATS_VQ, DEFLATE_ON_OOM, PAGE_REPORTING as
//   offered and allowed by the options. Queues as Linux numbers them: inflateq 0,
//   deflateq 1, then statsq if STATS_VQ was negotiated, then reporting_vq if
//   PAGE_REPORTING was (free_page_vq is never negotiated, so it takes no index).
// - Target: num_pages is followed in batches of at most 256 PFNs (le32, 4 KiB units).
//   Inflate: allocate order-0 pages, mark them in the balloon bitmap, send, wait for the
//   used buffer, write `actual`. Deflate: take pages from the bitmap, send on deflateq,
//   wait, and only then free them. `actual` is written after every batch.
// - Stats: one buffer of 10 entries lives on statsq; each time the device returns it, it
//   is refilled with fresh values and made available again. The page cache counts as
//   disk caches and, with the free pages, as available memory.
// - Free page reporting: free blocks of order >= 9 that are not yet reported are isolated
//   in batches of up to 32 (one chain of device-writable buffers, one block each), sent,
//   and put back marked reported once the device returns the chain. A pass runs
//   `report_delay_ms` after a free produced such a block (and after init), and on demand.
// - Deflate on OOM: when an order-0 allocation fails even after the page cache was
//   dropped, up to 256 balloon pages are deflated (through deflateq) and the allocation
//   retried. Like Linux, the driver then does not re-inflate until the host changes the
//   target again. Inflating may drop page cache but never deflates the balloon itself.
// - Compaction: `compact()` migrates balloon pages out of 2 MiB blocks holding only
//   balloon and free pages into denser blocks (inflate the new page, deflate the old one,
//   free it; batched), so those blocks become free 2 MiB blocks.
// - Servicing: nothing runs in interrupt context. service() does the pending work at
//   service points (between script commands, in sleep slices through the idle hook, in
//   allocation failures, in `serve`/`balloon wait`). Completion is polled; interrupts
//   (MSI-X, when the device has it) only shorten tide's wait-port sleeps and flag
//   configuration changes. A device that sets NEEDS_RESET, or holds a request past its
//   timeout, is reset and re-initialized; the balloon's pages are then returned to the
//   allocator (a reset gives them back to the guest) and the target is followed anew.
// Boot CPU only.
#pragma once

#include <cstdint>

#include "lib/text.hpp"
#include "mm/buddy.hpp"
#include "mm/page_bitmap.hpp"
#include "virtio/virtio_pci.hpp"

namespace tg::virtio {

struct BalloonOptions {
  bool probe = true;           // tide.balloon=off: do not look for the device
  bool must_tell_host = true;  // nomth
  bool stats = true;           // nostats
  bool deflate_on_oom = true;  // nooom
  bool reporting = true;       // noreport
  uint64_t report_delay_ms = 2000;  // tide.balloon_report_ms; 0: no automatic passes
};

// Parses tide.balloon=WORD,WORD... (off, nomth, nostats, nooom, noreport) and
// tide.balloon_report_ms=N. False (with *error) on an unknown word or a bad number.
bool parse_balloon_options(lib::Text flags, lib::Text report_ms, BalloonOptions* options,
                           const char** error);

struct BalloonCounters {
  uint64_t inflated = 0;      // pages inflated (target and OOM paths, hostile test pages)
  uint64_t deflated = 0;      // pages deflated (including oom_deflated)
  uint64_t reported = 0;      // pages of free blocks reported
  uint64_t migrated = 0;      // balloon pages migrated by compaction
  uint64_t oom_deflated = 0;  // pages deflated to satisfy allocations
  uint64_t stats_sent = 0;    // stats buffers made available
  uint64_t resets = 0;        // device resets (NEEDS_RESET or a stuck request)
};

struct CompactResult {
  uint64_t migrated = 0;
  uint64_t free2m_before = 0;
  uint64_t free2m_after = 0;
};

class VirtioBalloon {
 public:
  static constexpr uint32_t kMaxPfnsPerRequest = 256;  // Linux's VIRTIO_BALLOON_ARRAY_PFNS_MAX
  static constexpr uint32_t kOomPages = 256;           // Linux's VIRTIO_BALLOON_OOM_NR_PAGES
  static constexpr unsigned kReportOrder = 9;          // 2 MiB, Linux's page_reporting_order
  static constexpr unsigned kReportCapacity = 32;      // Linux's PAGE_REPORTING_CAPACITY

  // Finds the first virtio-balloon function on bus 0 and brings it up; also installs the
  // idle hook and the allocator's reclaimer. False when there is none (not an error) or
  // it failed (*error set).
  bool probe(const BalloonOptions& options, const char** error);
  bool ready() const { return ready_; }
  uint64_t features() const { return features_; }
  bool has(unsigned feature) const { return (features_ >> feature) & 1; }
  const BalloonCounters& counters() const { return counters_; }
  uint64_t balloon_pages() const { return pages_.count(); }
  // num_pages as last read (read_target() reads it now).
  uint32_t target() const { return target_; }
  uint32_t read_target();
  uint32_t actual() const { return actual_; }

  // One service point: bounded work (about 5 ms). Returns the microseconds until it next
  // has something to do (0: more work now).
  uint64_t service();
  // Services until actual == target; false when `timeout_us` (0: none) passes first.
  // Lifts the hold that deflate-on-OOM puts on inflating.
  bool wait_target(uint64_t timeout_us, uint64_t* waited_us);
  // One reporting pass now.
  bool report_now(uint64_t* ranges, uint64_t* pages, const char** error);
  bool compact(CompactResult* result, const char** error);
  // balloon hostile [all|safe|KIND[,KIND...]]: see README.md.
  bool hostile(lib::Text selection, const char** error);

 private:
  friend class BalloonHostile;  // virtio_balloon_hostile.cpp
  enum Queue : unsigned { kInflate, kDeflate, kStats, kReporting, kQueueRoles };
  static constexpr uint16_t kNoQueue = 0xffff;

  bool init_device(const char** error);
  // Resets the device and brings it up again; the balloon's pages go back to the allocator.
  void recover(const char* reason);
  void write_actual();
  void check_device();
  // Sends `count` PFNs from pfn_page_ on queue `role` and waits for the device.
  bool tell_host(Queue role, uint32_t count);
  bool wait_used(Queue role, int head, uint64_t timeout_ns, uint32_t* length = nullptr);
  void notify(Queue role);
  // Inflates / deflates up to `count` pages (one request); returns the pages moved.
  uint32_t inflate(uint32_t count);
  uint32_t deflate(uint32_t count);
  void fill_stats();
  void send_stats();
  void poll_stats();
  bool report_pass(uint64_t* ranges, uint64_t* pages);
  uint64_t census_free2m() const;
  bool migrate_batch(const uint64_t* new_pfns, const uint64_t* old_pfns, uint32_t count);

  static uint64_t idle_hook();
  static uint64_t reclaim(void* context);
  static uint64_t reclaimable(void* context);

  BalloonOptions options_;
  VirtioPciDevice transport_;
  Virtqueue queues_[kQueueRoles];
  uint16_t queue_index_[kQueueRoles] = {kNoQueue, kNoQueue, kNoQueue, kNoQueue};
  uint64_t features_ = 0;
  uint64_t wanted_ = 0;
  bool ready_ = false;
  bool busy_ = false;
  mm::PageBitmap pages_;
  uint64_t pfn_page_ = 0;    // the PFN array of inflate/deflate requests
  uint64_t stats_page_ = 0;  // the stats buffer
  int stats_head_ = -1;      // its descriptor while the device holds it
  uint32_t target_ = 0;
  uint32_t actual_ = 0;
  bool oom_hold_ = false;          // deflated on OOM: no inflating until the target changes
  uint64_t config_irqs_seen_ = 0;
  uint64_t next_config_poll_ns_ = 0;
  uint64_t inflate_retry_ns_ = 0;  // allocation failed: do not try before
  uint64_t large_frees_seen_ = 0;
  bool report_armed_ = false;
  uint64_t report_due_ns_ = 0;
  uint64_t deflate_cursor_ = mm::PageBitmap::kNone;  // deflate scans down from here
  uint64_t report_blocks_[kReportCapacity] = {};     // address | order, while isolated
  unsigned report_in_flight_ = 0;
  unsigned report_capacity_ = kReportCapacity;
  uint64_t hostile_stats_head_ = ~0ull;  // a hostile stats buffer the device still holds
  uint64_t hostile_pages_ = 0;           // hostile mode's buffers (order 1), kept once allocated
  BalloonCounters counters_;
  mm::Reclaimer reclaimer_{};
};

VirtioBalloon& virtio_balloon();

}  // namespace tg::virtio
