// virtio-balloon driver (see virtio_balloon.hpp).
#include "virtio/virtio_balloon.hpp"

#include "arch/interrupts.hpp"
#include "arch/x86.hpp"
#include "dev/clock.hpp"
#include "dev/pci.hpp"
#include "dev/wait.hpp"
#include "lib/format.hpp"
#include "lib/sort.hpp"
#include "lib/string.hpp"
#include "mm/buddy.hpp"
#include "mm/page_cache.hpp"
#include "mm/phys_map.hpp"
#include "mm/word_array.hpp"

namespace tg::virtio {
namespace {

constexpr uint16_t kQueueMaxSize = Virtqueue::kMaxSize;
// How long the device may hold an inflate, deflate or report request.
constexpr uint64_t kRequestTimeoutNs = 5'000'000'000;
// Work done by one service() call before it yields (the rest: next call, at once).
constexpr uint64_t kServiceBudgetNs = 5'000'000;
// num_pages and the device status are re-read this often at service points: rarely when
// a configuration-change interrupt tells us about changes, often when nothing would.
constexpr uint64_t kConfigPollWithIrqNs = 250'000'000;
constexpr uint64_t kConfigPollNs = 10'000'000;
// After an inflate could not get pages (Linux: "Out of puff", then msleep(200)).
constexpr uint64_t kInflateRetryNs = 200'000'000;
constexpr uint64_t kPagesPer2M = 512;
constexpr unsigned k2MShift = 9;
// Census entries: key << kKeyShift | 2 MiB block index.
constexpr unsigned kKeyShift = 44;
constexpr uint64_t kIndexMask = (1ull << kKeyShift) - 1;

VirtioBalloon g_balloon;

volatile uint32_t* config32(uint64_t base, uint32_t offset) {
  return reinterpret_cast<volatile uint32_t*>(base + offset);
}

uint64_t ns_to_us_ceil(uint64_t ns) { return (ns + 999) / 1000; }

uint64_t free_2m_blocks() {
  const mm::BuddyAllocator& a = mm::page_allocator();
  uint64_t blocks = 0;
  for (unsigned order = k2MShift; order <= mm::kMaxOrder; ++order)
    blocks += a.free_block_count(order) << (order - k2MShift);
  return blocks;
}

}  // namespace

VirtioBalloon& virtio_balloon() { return g_balloon; }

bool parse_balloon_options(lib::Text flags, lib::Text report_ms, BalloonOptions* options,
                           const char** error) {
  while (!flags.empty()) {
    const size_t comma = flags.find(',');
    const lib::Text word = flags.substr(0, comma);
    flags = flags.substr(comma < flags.size() ? comma + 1 : comma);
    if (word.empty() || word == lib::Text("on")) continue;
    if (word == lib::Text("off")) options->probe = false;
    else if (word == lib::Text("nomth")) options->must_tell_host = false;
    else if (word == lib::Text("nostats")) options->stats = false;
    else if (word == lib::Text("nooom")) options->deflate_on_oom = false;
    else if (word == lib::Text("noreport")) options->reporting = false;
    else {
      *error = "tide.balloon: unknown word (off, nomth, nostats, nooom, noreport)";
      return false;
    }
  }
  if (!report_ms.empty() && !report_ms.parse_u64(&options->report_delay_ms)) {
    *error = "tide.balloon_report_ms: not a number";
    return false;
  }
  return true;
}

bool VirtioBalloon::probe(const BalloonOptions& options, const char** error) {
  *error = nullptr;
  options_ = options;
  if (!options.probe) return false;
  dev::pci_init();
  const dev::PciFunction* found = nullptr;
  for (size_t i = 0; i < dev::pci_function_count() && found == nullptr; ++i) {
    if (is_virtio_device(dev::pci_function(i), VIRTIO_ID_BALLOON)) found = &dev::pci_function(i);
  }
  if (found == nullptr) return false;
  if (!transport_.attach(*found, error)) return false;
  if (transport_.device_config() == 0) {
    *error = "no virtio device configuration structure";
    return false;
  }
  uint64_t pfn_limit = 0;
  const mm::PhysMap& map = mm::phys_map();
  for (size_t i = 0; i < map.ram_count(); ++i) {
    if ((map.ram(i).end >> mm::kPageShift) > pfn_limit) pfn_limit = map.ram(i).end >> mm::kPageShift;
  }
  pfn_page_ = mm::alloc_pages(0);
  stats_page_ = mm::alloc_pages(0);
  if (pfn_page_ == 0 || stats_page_ == 0 || !pages_.init(pfn_limit)) {
    *error = "out of memory";
    return false;
  }
  memset(reinterpret_cast<void*>(pfn_page_), 0, mm::kPageSize);
  memset(reinterpret_cast<void*>(stats_page_), 0, mm::kPageSize);
  wanted_ = (options.must_tell_host ? 1ull << VIRTIO_BALLOON_F_MUST_TELL_HOST : 0) |
            (options.stats ? 1ull << VIRTIO_BALLOON_F_STATS_VQ : 0) |
            (options.deflate_on_oom ? 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM : 0) |
            (options.reporting ? 1ull << VIRTIO_BALLOON_F_PAGE_REPORTING : 0);
  if (!init_device(error)) return false;
  large_frees_seen_ = mm::page_allocator().large_free_count();
  // The last resort: the page cache's shrinker (an earlier stage) is asked first.
  reclaimer_ = mm::Reclaimer{&VirtioBalloon::reclaim, &VirtioBalloon::reclaimable, this, mm::ReclaimStage::kOom};
  if (!mm::page_allocator().add_reclaimer(&reclaimer_)) kprintf("tideguest: balloon: no room for its reclaimer\n");
  dev::set_idle_hook(&VirtioBalloon::idle_hook);
  return true;
}

bool VirtioBalloon::init_device(const char** error) {
  ready_ = false;
  transport_.reset();
  uint64_t accepted = 0;
  if (!transport_.negotiate(wanted_, &accepted, error)) return false;
  features_ = accepted;
  // Linux numbers only the queues of negotiated features (virtio_find_vqs skips unnamed
  // ones); free_page_vq would come before reporting_vq but is never negotiated here.
  uint16_t next = 0;
  queue_index_[kInflate] = next++;
  queue_index_[kDeflate] = next++;
  queue_index_[kStats] = has(VIRTIO_BALLOON_F_STATS_VQ) ? next++ : kNoQueue;
  queue_index_[kReporting] = has(VIRTIO_BALLOON_F_PAGE_REPORTING) ? next++ : kNoQueue;
  // Entry 0: configuration changes; entry 1 + q: queue q, or all queues on entry 1 when
  // the table is smaller (Linux's shared-vector fallback). No MSI-X: polling only.
  const unsigned entries = transport_.setup_msix(1u + next);
  for (unsigned role = 0; role < kQueueRoles; ++role) {
    const uint16_t index = queue_index_[role];
    if (index == kNoQueue) continue;
    const int entry = entries >= 2u + index ? 1 + index : (entries >= 2 ? 1 : 0x7fff);
    if (!transport_.setup_queue(index, queues_[role], kQueueMaxSize, error, entry)) {
      transport_.fail();
      return false;
    }
  }
  report_capacity_ = kReportCapacity;
  if (queue_index_[kReporting] != kNoQueue && queues_[kReporting].size() < report_capacity_)
    report_capacity_ = queues_[kReporting].size();
  stats_head_ = -1;
  hostile_stats_head_ = ~0ull;
  if (has(VIRTIO_BALLOON_F_STATS_VQ)) {
    // 5.5.6.3: the driver makes one stats buffer available right after initialization
    // (published now, notified once DRIVER_OK is set).
    fill_stats();
    VirtqBuffer buffer{stats_page_, VIRTIO_BALLOON_S_NR * sizeof(virtio_balloon_stat), false};
    stats_head_ = queues_[kStats].submit(&buffer, 1);
  }
  transport_.driver_ok();
  if (stats_head_ >= 0) {
    notify(kStats);
    ++counters_.stats_sent;
  }
  write_actual();
  read_target();
  config_irqs_seen_ = entries > 0 ? arch::vector_count(transport_.msix_vector(0)) : 0;
  const uint64_t now = dev::now_ns();
  next_config_poll_ns_ = now + (entries > 0 ? kConfigPollWithIrqNs : kConfigPollNs);
  inflate_retry_ns_ = 0;
  report_armed_ = false;
  if (has(VIRTIO_BALLOON_F_PAGE_REPORTING) && options_.report_delay_ms != 0) {
    // Like page_reporting_register(): a first pass once the delay has passed.
    report_armed_ = true;
    report_due_ns_ = now + options_.report_delay_ms * 1'000'000;
  }
  ready_ = true;
  return true;
}

void VirtioBalloon::recover(const char* reason) {
  kprintf("balloon-event: device reset reason=%s balloon_pages=%lu\n", reason, pages_.count());
  const bool was_busy = busy_;
  busy_ = true;
  ready_ = false;
  transport_.reset();
  // The device dropped every request it held: isolated report blocks are plain free
  // memory again, and a reset gives the balloon's pages back to the guest.
  for (unsigned i = 0; i < report_in_flight_; ++i)
    mm::free_pages(report_blocks_[i] & ~(mm::kPageSize - 1), report_blocks_[i] & (mm::kPageSize - 1));
  report_in_flight_ = 0;
  for (uint64_t pfn = pages_.find_last_below(pages_.limit()); pfn != mm::PageBitmap::kNone;
       pfn = pages_.find_last_below(pfn)) {
    pages_.clear(pfn);
    mm::free_pages(pfn << mm::kPageShift, 0);
  }
  ++counters_.resets;
  const char* error = nullptr;
  if (!init_device(&error)) kprintf("balloon-event: re-initialization failed: %s\n", error);
  busy_ = was_busy;
}

void VirtioBalloon::write_actual() {
  actual_ = static_cast<uint32_t>(pages_.count());
  *config32(transport_.device_config(), VIRTIO_BALLOON_CONFIG_ACTUAL) = actual_;
}

uint32_t VirtioBalloon::read_target() {
  const uint32_t target = *config32(transport_.device_config(), VIRTIO_BALLOON_CONFIG_NUM_PAGES);
  if (target != target_) oom_hold_ = false;  // the host changed its mind: follow it again
  target_ = target;
  return target;
}

void VirtioBalloon::check_device() {
  const bool irq = transport_.msix_entries() > 0;
  const uint64_t irqs = irq ? arch::vector_count(transport_.msix_vector(0)) : 0;
  const uint64_t now = dev::now_ns();
  if (irqs == config_irqs_seen_ && now < next_config_poll_ns_) return;
  if (irqs != config_irqs_seen_) oom_hold_ = false;  // a configuration change
  config_irqs_seen_ = irqs;
  next_config_poll_ns_ = now + (irq ? kConfigPollWithIrqNs : kConfigPollNs);
  if (transport_.status() & VIRTIO_CONFIG_S_NEEDS_RESET) {
    recover("needs-reset");
    return;
  }
  read_target();
}

void VirtioBalloon::notify(Queue role) { transport_.notify(queue_index_[role]); }

bool VirtioBalloon::wait_used(Queue role, int head, uint64_t timeout_ns, uint32_t* length) {
  const uint64_t deadline = dev::now_ns() + timeout_ns;
  // Under tide the wait port returns early on an interrupt, so long slices cost nothing
  // when the device has MSI-X; without it, short ones. Elsewhere: spin.
  const uint32_t slice_us = transport_.msix_entries() > 0 ? 1000 : 20;
  for (;;) {
    uint32_t id = 0, used_length = 0;
    while (queues_[role].take_used(&id, &used_length)) {
      if (static_cast<int>(id) == head) {
        if (length != nullptr) *length = used_length;
        return true;
      }
      if (role == kStats && static_cast<int>(id) == stats_head_) stats_head_ = -2;  // poll_stats resends
      if (role == kStats && id == hostile_stats_head_) hostile_stats_head_ = ~0ull;
    }
    if (dev::now_ns() >= deadline) return false;
    if (dev::wait_port_present()) {
      dev::wait_us(slice_us);
    } else {
      for (int i = 0; i < 16; ++i) arch::pause();
    }
  }
}

bool VirtioBalloon::tell_host(Queue role, uint32_t count) {
  VirtqBuffer buffer{pfn_page_, count * 4, false};
  const int head = queues_[role].submit(&buffer, 1);
  if (head < 0) {
    recover("queue-full");
    return false;
  }
  notify(role);
  if (!wait_used(role, head, kRequestTimeoutNs)) {
    recover(role == kInflate ? "inflate-timeout" : "deflate-timeout");
    return false;
  }
  return true;
}

uint32_t VirtioBalloon::inflate(uint32_t count) {
  auto* pfns = reinterpret_cast<uint32_t*>(pfn_page_);
  if (count > kMaxPfnsPerRequest) count = kMaxPfnsPerRequest;
  uint32_t n = 0;
  while (n < count) {
    // Like Linux's balloon_page_alloc (__GFP_NORETRY): cache pages may be dropped to fill
    // the balloon, but an inflate never deflates its own balloon on OOM.
    const uint64_t page = mm::alloc_pages(0, mm::ReclaimStage::kShrink);
    if (page == 0) break;
    const uint64_t pfn = page >> mm::kPageShift;
    if (pfn > 0xffffffffull || !pages_.set(pfn)) {
      mm::free_pages(page, 0);
      break;
    }
    pfns[n++] = static_cast<uint32_t>(pfn);
  }
  if (n == 0) return 0;
  if (!tell_host(kInflate, n)) return 0;  // recovered: the pages went back with the rest
  counters_.inflated += n;
  write_actual();
  return n;
}

uint32_t VirtioBalloon::deflate(uint32_t count) {
  auto* pfns = reinterpret_cast<uint32_t*>(pfn_page_);
  if (count > kMaxPfnsPerRequest) count = kMaxPfnsPerRequest;
  uint32_t n = 0;
  for (uint64_t pfn = pages_.find_last_below(pages_.limit()); n < count && pfn != mm::PageBitmap::kNone;
       pfn = pages_.find_last_below(pfn))
    pfns[n++] = static_cast<uint32_t>(pfn);
  if (n == 0) return 0;
  // Tell the host first (MUST_TELL_HOST or not, as Linux does), free the pages after.
  if (!tell_host(kDeflate, n)) return 0;
  for (uint32_t i = 0; i < n; ++i) {
    pages_.clear(pfns[i]);
    mm::free_pages(uint64_t{pfns[i]} << mm::kPageShift, 0);
  }
  counters_.deflated += n;
  write_actual();
  return n;
}

void VirtioBalloon::fill_stats() {
  const mm::BuddyAllocator& a = mm::page_allocator();
  const uint64_t free_bytes = a.free_page_count() * mm::kPageSize;
  const uint64_t cache_bytes = mm::page_cache().page_count() * mm::kPageSize;
  // Like Linux, ballooned pages leave the total unless deflate-on-OOM can take them back.
  uint64_t total_pages = a.managed_page_count();
  if (!has(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) && pages_.count() <= total_pages) total_pages -= pages_.count();
  // tideguest never swaps, has no hugetlb pool, and takes no page faults (everything is
  // identity-mapped up front), so those figures stay 0. The page cache is all reclaimable,
  // so available memory is free plus cache (Linux's MemAvailable, without its reserves).
  uint64_t values[VIRTIO_BALLOON_S_NR] = {};
  values[VIRTIO_BALLOON_S_MEMFREE] = free_bytes;
  values[VIRTIO_BALLOON_S_MEMTOT] = total_pages * mm::kPageSize;
  values[VIRTIO_BALLOON_S_AVAIL] = free_bytes + cache_bytes;
  values[VIRTIO_BALLOON_S_CACHES] = cache_bytes;
  auto* stats = reinterpret_cast<virtio_balloon_stat*>(stats_page_);
  for (uint16_t tag = 0; tag < VIRTIO_BALLOON_S_NR; ++tag) {
    stats[tag].tag = tag;
    stats[tag].val = values[tag];
  }
}

void VirtioBalloon::send_stats() {
  fill_stats();
  VirtqBuffer buffer{stats_page_, VIRTIO_BALLOON_S_NR * sizeof(virtio_balloon_stat), false};
  stats_head_ = queues_[kStats].submit(&buffer, 1);
  if (stats_head_ < 0) return;
  notify(kStats);
  ++counters_.stats_sent;
}

void VirtioBalloon::poll_stats() {
  if (!has(VIRTIO_BALLOON_F_STATS_VQ)) return;
  uint32_t id = 0, length = 0;
  while (queues_[kStats].take_used(&id, &length)) {
    if (static_cast<int>(id) == stats_head_) stats_head_ = -2;
    else if (id == hostile_stats_head_) hostile_stats_head_ = ~0ull;
  }
  // The device returned the buffer: it wants fresh figures (5.5.6.3).
  if (stats_head_ == -2) send_stats();
}

uint64_t VirtioBalloon::service() {
  if (!ready_ || busy_) return dev::kIdleForever;
  busy_ = true;
  const uint64_t start = dev::now_ns();
  check_device();
  if (ready_) poll_stats();
  bool more = false;
  while (ready_) {
    const uint64_t have = pages_.count();
    if (target_ > have) {
      if (oom_hold_ || dev::now_ns() < inflate_retry_ns_) break;
      const uint64_t want = target_ - have < kMaxPfnsPerRequest ? target_ - have : kMaxPfnsPerRequest;
      const uint32_t got = inflate(static_cast<uint32_t>(want));
      if (got < want) {
        inflate_retry_ns_ = dev::now_ns() + kInflateRetryNs;  // out of puff: later
        break;
      }
    } else if (target_ < have) {
      const uint64_t want = have - target_ < kMaxPfnsPerRequest ? have - target_ : kMaxPfnsPerRequest;
      if (deflate(static_cast<uint32_t>(want)) == 0) break;
    } else {
      break;
    }
    if (!ready_) break;
    read_target();  // as Linux's towards_target(), every round
    if (dev::now_ns() - start >= kServiceBudgetNs) {
      more = true;
      break;
    }
  }
  uint64_t now = dev::now_ns();
  if (ready_ && !more && has(VIRTIO_BALLOON_F_PAGE_REPORTING) && options_.report_delay_ms != 0) {
    const uint64_t large_frees = mm::page_allocator().large_free_count();
    if (large_frees != large_frees_seen_) {
      large_frees_seen_ = large_frees;
      if (!report_armed_) {
        report_armed_ = true;
        report_due_ns_ = now + options_.report_delay_ms * 1'000'000;
      }
    }
    if (report_armed_ && now >= report_due_ns_) {
      report_armed_ = false;
      uint64_t ranges = 0, pages = 0;
      report_pass(&ranges, &pages);
      large_frees_seen_ = mm::page_allocator().large_free_count();
      now = dev::now_ns();
    }
  }
  busy_ = false;
  if (!ready_) return dev::kIdleForever;
  if (more) return 0;
  uint64_t due_ns = next_config_poll_ns_ > now ? next_config_poll_ns_ - now : 0;
  if (report_armed_) {
    const uint64_t left = report_due_ns_ > now ? report_due_ns_ - now : 0;
    if (left < due_ns) due_ns = left;
  }
  if (target_ > pages_.count() && !oom_hold_) {
    const uint64_t left = inflate_retry_ns_ > now ? inflate_retry_ns_ - now : 0;
    if (left < due_ns) due_ns = left;
  }
  return ns_to_us_ceil(due_ns);
}

uint64_t VirtioBalloon::idle_hook() { return g_balloon.service(); }

uint64_t VirtioBalloon::reclaim(void* context) {
  auto* self = static_cast<VirtioBalloon*>(context);
  if (!self->ready_ || self->busy_ || !self->has(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)) return 0;
  const uint64_t before = self->pages_.count();
  if (before == 0) return 0;
  self->busy_ = true;
  const uint32_t n = self->deflate(before < kOomPages ? static_cast<uint32_t>(before) : kOomPages);
  self->busy_ = false;
  self->counters_.oom_deflated += n;
  // Like Linux's OOM notifier: the balloon stays smaller until the host sets a target again.
  if (n > 0) self->oom_hold_ = true;
  const uint64_t after = self->pages_.count();
  return before > after ? before - after : 0;  // a reset returns everything
}

uint64_t VirtioBalloon::reclaimable(void* context) {
  auto* self = static_cast<VirtioBalloon*>(context);
  if (!self->ready_ || self->busy_ || !self->has(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)) return 0;
  return self->pages_.count();
}

bool VirtioBalloon::wait_target(uint64_t timeout_us, uint64_t* waited_us) {
  const uint64_t start = dev::now_ns();
  oom_hold_ = false;
  inflate_retry_ns_ = 0;
  if (ready_ && !busy_) read_target();
  for (;;) {
    const uint64_t due_us = service();
    const uint64_t elapsed_ns = dev::now_ns() - start;
    *waited_us = elapsed_ns / 1000;
    if (ready_ && pages_.count() == target_ && actual_ == target_) return true;
    if (timeout_us != 0 && elapsed_ns >= timeout_us * 1000) return false;
    if (due_us > 0) dev::wait_us(static_cast<uint32_t>(due_us < 1000 ? due_us : 1000));
  }
}

bool VirtioBalloon::report_pass(uint64_t* ranges, uint64_t* pages) {
  *ranges = 0;
  *pages = 0;
  if (!has(VIRTIO_BALLOON_F_PAGE_REPORTING)) return false;
  mm::BuddyAllocator& allocator = mm::page_allocator();
  for (;;) {
    unsigned count = 0;
    allocator.visit_free_blocks(kReportOrder, [&](uint64_t address, unsigned order, bool reported) {
      // Reported blocks sit at the tails of their lists: the rest of this list is reported.
      if (reported) return mm::BuddyAllocator::Visit::kNextOrder;
      report_blocks_[count++] = address | order;
      return count == report_capacity_ ? mm::BuddyAllocator::Visit::kStop
                                       : mm::BuddyAllocator::Visit::kContinue;
    });
    if (count == 0) return true;
    VirtqBuffer buffers[kReportCapacity];
    unsigned isolated = 0;
    for (unsigned i = 0; i < count; ++i) {
      const uint64_t address = report_blocks_[i] & ~(mm::kPageSize - 1);
      const auto order = static_cast<unsigned>(report_blocks_[i] & (mm::kPageSize - 1));
      if (!allocator.isolate_free_block(address, order)) continue;
      report_blocks_[isolated] = report_blocks_[i];
      // Linux adds them with virtqueue_add_inbuf: device-writable, one block each.
      buffers[isolated++] = VirtqBuffer{address, static_cast<uint32_t>(mm::kPageSize << order), true};
    }
    report_in_flight_ = isolated;
    if (isolated == 0) return true;
    const int head = queues_[kReporting].submit(buffers, isolated);
    if (head < 0) {
      recover("report-queue-full");
      return false;
    }
    notify(kReporting);
    if (!wait_used(kReporting, head, kRequestTimeoutNs)) {
      recover("report-timeout");
      return false;
    }
    uint64_t batch_pages = 0;
    for (unsigned i = 0; i < isolated; ++i) {
      const uint64_t address = report_blocks_[i] & ~(mm::kPageSize - 1);
      const auto order = static_cast<unsigned>(report_blocks_[i] & (mm::kPageSize - 1));
      allocator.free_reported(address, order);
      batch_pages += 1ull << order;
    }
    report_in_flight_ = 0;
    *ranges += isolated;
    *pages += batch_pages;
    counters_.reported += batch_pages;
  }
}

bool VirtioBalloon::report_now(uint64_t* ranges, uint64_t* pages, const char** error) {
  if (!ready_) {
    *error = "no virtio-balloon device";
    return false;
  }
  if (!has(VIRTIO_BALLOON_F_PAGE_REPORTING)) {
    *error = "free page reporting was not negotiated";
    return false;
  }
  if (busy_) {
    *error = "balloon busy";
    return false;
  }
  busy_ = true;
  const bool ok = report_pass(ranges, pages);
  busy_ = false;
  report_armed_ = false;
  large_frees_seen_ = mm::page_allocator().large_free_count();
  if (!ok) *error = "the device did not complete a report (it was reset)";
  return ok;
}

bool VirtioBalloon::migrate_batch(const uint64_t* new_pfns, const uint64_t* old_pfns, uint32_t count) {
  auto* pfns = reinterpret_cast<uint32_t*>(pfn_page_);
  // virtballoon_migratepage: the new page joins the balloon and is inflated, then the old
  // one is deflated and freed; batched, in that order.
  for (uint32_t i = 0; i < count; ++i) {
    if (!pages_.set(new_pfns[i])) {
      for (uint32_t j = 0; j < i; ++j) pages_.clear(new_pfns[j]);
      for (uint32_t j = 0; j < count; ++j) mm::free_pages(new_pfns[j] << mm::kPageShift, 0);
      return false;
    }
    pfns[i] = static_cast<uint32_t>(new_pfns[i]);
  }
  if (!tell_host(kInflate, count)) return false;
  for (uint32_t i = 0; i < count; ++i) pfns[i] = static_cast<uint32_t>(old_pfns[i]);
  if (!tell_host(kDeflate, count)) return false;
  for (uint32_t i = 0; i < count; ++i) {
    pages_.clear(old_pfns[i]);
    mm::free_pages(old_pfns[i] << mm::kPageShift, 0);
  }
  counters_.migrated += count;
  return true;
}

bool VirtioBalloon::compact(CompactResult* result, const char** error) {
  if (!ready_) {
    *error = "no virtio-balloon device";
    return false;
  }
  if (busy_) {
    *error = "balloon busy";
    return false;
  }
  busy_ = true;
  mm::BuddyAllocator& allocator = mm::page_allocator();
  const mm::PhysMap& map = mm::phys_map();
  result->free2m_before = free_2m_blocks();
  result->migrated = 0;

  // Room for every 2 MiB block first, so the census is not disturbed by the arrays.
  uint64_t blocks = 0;
  for (size_t i = 0; i < map.ram_count(); ++i) blocks += map.ram(i).size() / (kPagesPer2M * mm::kPageSize) + 1;
  mm::WordArray sources, pool;
  if (!sources.resize(blocks) || !pool.resize(blocks)) {
    busy_ = false;
    *error = "out of memory for the census";
    return false;
  }
  sources.resize(0);
  pool.resize(0);

  // Census: per 2 MiB block, free (F), balloon (B) and other (A) pages. Sources hold only
  // balloon and free pages (emptying them makes a free 2 MiB block), cheapest first;
  // targets hold something unmovable and some free pages, densest (fewest free) first.
  uint64_t pool_free = 0;
  for (size_t i = 0; i < map.ram_count(); ++i) {
    const uint64_t first = ((map.ram(i).base >> mm::kPageShift) + kPagesPer2M - 1) & ~(kPagesPer2M - 1);
    for (uint64_t pfn = first; pfn + kPagesPer2M <= (map.ram(i).end >> mm::kPageShift); pfn += kPagesPer2M) {
      uint64_t free = 0, balloon = 0, other = 0;
      const bool whole = allocator.for_each_block_in(
          pfn, kPagesPer2M, [&](uint64_t head, unsigned order, mm::PageState state, uint64_t n) {
            if (state == mm::PageState::kFree) free += n;
            else if (state == mm::PageState::kAllocated && order == 0 && pages_.test(head)) ++balloon;
            else other += n;
          });
      if (!whole) continue;
      const uint64_t index = pfn >> k2MShift;
      if (other == 0 && balloon > 0) {
        sources.push(balloon << kKeyShift | index);
      } else if (other > 0 && free > 0) {
        pool.push(free << kKeyShift | index);
        pool_free += free;
      }
    }
  }
  lib::sort_u64(sources.data(), sources.size());
  lib::sort_u64(pool.data(), pool.size());

  // Two scanners: empty sources from the cheapest end; when the targets run out, the most
  // expensive remaining source becomes a target (its free pages fill up instead).
  size_t low = 0, high = sources.size();
  size_t pool_index = 0;
  uint64_t pool_offset = 0;
  uint64_t new_pfns[kMaxPfnsPerRequest], old_pfns[kMaxPfnsPerRequest];
  bool ok = true;
  // Takes the next free page of the pool, in pool order (0 when it is exhausted; frame 0
  // is never free).
  auto next_target = [&]() -> uint64_t {
    for (; pool_index < pool.size(); ++pool_index, pool_offset = 0) {
      const uint64_t base = (pool[pool_index] & kIndexMask) << k2MShift;
      for (; pool_offset < kPagesPer2M; ++pool_offset) {
        if (allocator.alloc_page_at((base + pool_offset) << mm::kPageShift)) return base + pool_offset++;
      }
    }
    return 0;
  };
  while (ok && low < high) {
    const uint64_t need = sources[low] >> kKeyShift;
    while (pool_free < need && high - 1 > low) {
      --high;
      const uint64_t spare = kPagesPer2M - (sources[high] >> kKeyShift);
      if (spare == 0) continue;
      if (!pool.push(spare << kKeyShift | (sources[high] & kIndexMask))) break;
      pool_free += spare;
    }
    if (pool_free < need) break;
    const uint64_t source = (sources[low] & kIndexMask) << k2MShift;
    uint32_t batch = 0;
    for (uint64_t pfn = source; ok && pfn < source + kPagesPer2M; ++pfn) {
      if (!pages_.test(pfn)) continue;
      const uint64_t target = next_target();
      if (target == 0) {
        ok = false;
        break;
      }
      new_pfns[batch] = target;
      old_pfns[batch++] = pfn;
      if (batch == kMaxPfnsPerRequest) {
        // On failure migrate_batch has already given back the new pages.
        ok = migrate_batch(new_pfns, old_pfns, batch);
        if (ok) result->migrated += batch;
        batch = 0;
      }
    }
    if (batch > 0 && ok) {
      ok = migrate_batch(new_pfns, old_pfns, batch);
      if (ok) result->migrated += batch;
    } else if (batch > 0) {
      for (uint32_t i = 0; i < batch; ++i) mm::free_pages(new_pfns[i] << mm::kPageShift, 0);
    }
    pool_free -= need;
    ++low;
  }
  busy_ = false;
  result->free2m_after = free_2m_blocks();
  if (!ready_) {
    *error = "the device failed during compaction (it was reset)";
    return false;
  }
  return true;
}

}  // namespace tg::virtio
