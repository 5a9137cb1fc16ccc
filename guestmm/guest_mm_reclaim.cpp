// GuestMm's side of memory control: parking and throttling faults, swap-out of cold pages
// and swap-in through the fault path, the aging lists, and the memcg statistics.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "guestmm/base/log.hpp"
#include "guestmm/guest_mm.hpp"
#include "guestmm/memory_manager.hpp"

namespace tide::gmm {
namespace {

// One page-aligned bounce page per thread for swap-in (O_DIRECT needs alignment).
std::byte* bounce_page() {
  struct Page {
    std::byte* p = static_cast<std::byte*>(std::aligned_alloc(kPageSize, kPageSize));
    ~Page() { std::free(p); }
  };
  thread_local Page page;
  return page.p;
}

// ... and one 2 MiB bounce buffer per thread for extent swap-ins.
std::byte* bounce_extent() {
  struct Extent {
    std::byte* p = static_cast<std::byte*>(std::aligned_alloc(kPageSize, kExtentSize));
    ~Extent() { std::free(p); }
  };
  thread_local Extent extent;
  return extent.p;
}

}  // namespace

void GuestMm::set_hooks(reclaim::GuestHooks hooks) {
  std::lock_guard l(hooks_mutex_);
  hooks_ = std::move(hooks);
}

reclaim::GuestHooks GuestMm::hooks() const {
  std::lock_guard l(hooks_mutex_);
  return hooks_;
}

void GuestMm::uncharge(uint64_t pages) {
  if (pages == 0) return;
  if (auto st = mm_.memcg().uncharge(memcg_id_, pages); !st) {
    log::error("%s: %s", name_.c_str(), st.error().message().c_str());
  }
}

void GuestMm::park(uint64_t offset, memcg::MemcgId on, bool pool) {
  {
    std::lock_guard l(parked_.mutex);
    // One entry per page: several threads (or retries) may fault on the same one.
    if (std::find(parked_.faults.begin(), parked_.faults.end(), offset) == parked_.faults.end()) {
      parked_.faults.push_back(offset);
    }
    parked_.on = on;
    parked_.pool = pool;
  }
  mm_.reclaim_engine().notify();
}

Status GuestMm::wake_or_throttle(uint64_t off, uint64_t len, bool over_high) {
  if (!over_high) return window_->wake(off, len);
  // Over high: the page is in place, but the faulting thread goes on only after the
  // reclaimer has had a round at this guest (memory.high's throttling).
  counters_.throttled.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard l(parked_.mutex);
    parked_.throttled.push_back(host::ByteRange{off, len});
  }
  mm_.reclaim_engine().notify();
  return ok();
}

uint64_t GuestMm::parked() const {
  std::lock_guard l(parked_.mutex);
  return parked_.faults.size();
}

memcg::MemcgId GuestMm::parked_on() const {
  std::lock_guard l(parked_.mutex);
  return parked_.on;
}

bool GuestMm::pool_starved() const {
  std::lock_guard l(parked_.mutex);
  return !parked_.faults.empty() && parked_.pool;
}

uint64_t GuestMm::retry_parked() {
  std::vector<uint64_t> faults;
  std::vector<host::ByteRange> throttled;
  {
    std::lock_guard l(parked_.mutex);
    faults.swap(parked_.faults);
    throttled.swap(parked_.throttled);
  }
  for (const host::ByteRange& r : throttled) {
    if (auto st = window_->wake(r.offset, r.len); !st) log::warn("%s: %s", name_.c_str(), st.error().message().c_str());
  }
  for (uint64_t off : faults) {
    if (auto st = handle_fault(host::WindowFault{off, false, false}); !st) {
      log::error("%s: %s", name_.c_str(), st.error().message().c_str());
    }
  }
  return parked();
}

uint64_t GuestMm::frameless_free_pages() const {
  const GuestMmStats s = stats();
  const uint64_t n = p2m_.nr_pages();
  const uint64_t gone = s.resident_frames + s.swapped_pages;
  return n > gone ? n - gone : 0;
}

void GuestMm::lru_add(uint64_t first, uint64_t count) {
  std::lock_guard l(aging_mutex_);
  for (uint64_t i = 0; i < count; ++i) lru_.add(first + i);
}

void GuestMm::lru_remove(std::span<const uint64_t> indices) {
  std::lock_guard l(aging_mutex_);
  for (uint64_t i : indices) lru_.remove(i);
}

swap::SwapStore* GuestMm::swap_store() {
  std::lock_guard l(swap_mutex_);
  if (swap_ || swap_failed_) return swap_.get();
  swap::SwapStoreOptions o;
  o.guest_name = name_;
  o.size_bytes = limits_.swap_bytes != 0 ? align_up(limits_.swap_bytes, kPageSize) : size_bytes();
  o.directory = limits_.swap_directory;
  auto store = swap::SwapStore::create(mm_.swap_files(), o);
  if (!store) {
    // Said once; the guest goes on without swap (reclaim stops at the balloon).
    swap_failed_ = true;
    log::error("%s: no swap file: %s", name_.c_str(), store.error().message().c_str());
    return nullptr;
  }
  swap_ = std::move(*store);
  log::info("%s: swap file in %s (unlinked, sparse, up to %llu MiB%s)", name_.c_str(),
            (o.directory.empty() ? host::default_swap_directory() : o.directory).c_str(),
            static_cast<unsigned long long>(o.size_bytes >> 20), swap_->file().direct_io() ? ", O_DIRECT" : "");
  return swap_.get();
}

Status GuestMm::swap_in(uint64_t index, P2mEntry e) {
  // Under the extent lock. The page's data is in its slot; it comes back into a new frame
  // charged like any fault, before the guest sees it. Where the whole extent is frameless
  // (Swapped or Empty: typically swapped out together, as cold pages are) and fits under
  // the limits, it comes back whole into one 2 MiB block: one window mapping, one read per
  // run of slots, the guest's neighbouring pages with it (swap readahead, by extent).
  const uint64_t off = index << kPageShift;
  const uint64_t extent = index / kPagesPerExtent;
  if (p2m_.extent_pages(extent) == kPagesPerExtent) {
    bool whole = true;
    const uint64_t first = extent * kPagesPerExtent;
    for (uint64_t i = 0; i < kPagesPerExtent && whole; ++i) {
      const PageState st = p2m_.load(first + i).state();
      whole = st == PageState::swapped || st == PageState::empty;
    }
    auto room = mm_.memcg().headroom(memcg_id_);
    if (whole && room && *room >= kPagesPerExtent) {
      TIDE_TRY_ASSIGN(charge, mm_.memcg().try_charge(memcg_id_, kPagesPerExtent));
      if (charge.charged) {
        auto st = swap_in_extent(extent, !charge.over_high.empty());
        if (st) return st;
        uncharge(kPagesPerExtent);
        if (st.error().code != std::errc::not_enough_memory) return st;
      }
    }
  }
  TIDE_TRY_ASSIGN(charge, mm_.memcg().try_charge(memcg_id_, 1));
  if (!charge.charged) {
    park(off, charge.limited_by, false);
    return ok();
  }
  auto choice = take_frame(index);
  if (!choice) {
    uncharge(1);
    park(off, memcg::kRootId, true);
    return ok();
  }
  const swap::Slot slot(e.payload());
  std::byte* buf = bounce_page();
  Status st = ok();
  {
    std::lock_guard l(swap_mutex_);
    st = swap_ ? swap_->swap_in(slot, buf) : make_error(std::errc::io_error, "a Swapped page but no swap file");
  }
  if (st && choice->remap) {
    st = window_->map_frames(off, choice->mfn.value() << kPageShift, kPageSize);
    if (st) counters_.remaps.fetch_add(1, std::memory_order_relaxed);
    // The page stays Swapped on failure; it has no hint (a Swapped entry carries its slot).
  }
  if (st) {
    if (choice->hot) {
      // A hot frame is already in the pool: write through the pool map, then map it.
      std::memcpy(mm_.backing().map() + (choice->mfn.value() << kPageShift), buf, kPageSize);
      st = window_->fill_present(off, kPageSize);
    } else {
      st = window_->fill_copy(off, std::span<const std::byte>(buf, kPageSize));
    }
  }
  if (!st) {
    return_frame(*choice);
    uncharge(1);
    return prefixed(st.error(), name_ + ": swap-in");
  }
  own(index, choice->mfn);
  p2m_.store(index, P2mEntry::present(choice->mfn));
  swapped_in(std::span(&slot, 1));
  counters_.resident.fetch_add(1, std::memory_order_relaxed);
  lru_add(index, 1);
  return wake_or_throttle(off, kPageSize, !charge.over_high.empty());
}

void GuestMm::swapped_in(std::span<const swap::Slot> slots) {
  {
    std::lock_guard l(swap_mutex_);
    if (auto rs = swap_->release(slots); !rs) log::error("%s: %s", name_.c_str(), rs.error().message().c_str());
  }
  if (auto us = mm_.memcg().uncharge_swap(memcg_id_, slots.size()); !us) {
    log::error("%s: %s", name_.c_str(), us.error().message().c_str());
  }
  counters_.swapped.fetch_sub(slots.size(), std::memory_order_relaxed);
  counters_.swap_in.fetch_add(slots.size(), std::memory_order_relaxed);
  (void)mm_.memcg().stat_add(memcg_id_, memcg::Stat::swap_in, slots.size());
}

Status GuestMm::swap_in_extent(uint64_t extent, bool over_high) {
  PoolAllocator& pool = mm_.pool();
  std::optional<Mfn> block = pool.alloc_block(BuddyAllocator::kExtentOrder);
  if (!block && mm_.scrubber().pending() > 0 && mm_.scrubber().flush()) block = pool.alloc_block(BuddyAllocator::kExtentOrder);
  if (!block) return make_error(std::errc::not_enough_memory, name_ + ": no free 2 MiB block for a swap-in");
  const uint64_t first = extent * kPagesPerExtent;
  const uint64_t off = first << kPageShift;
  // The extent is read into a bounce buffer and copied in with one UFFDIO_COPY (the frames
  // are populated by the copy, as the kernel's own swap-in does).
  std::byte* base = bounce_extent();
  std::vector<swap::PageIn> in;
  std::vector<swap::Slot> slots;
  for (uint64_t k = 0; k < kPagesPerExtent; ++k) {
    const P2mEntry e = p2m_.load(first + k);
    if (e.state() == PageState::swapped) {
      in.push_back(swap::PageIn{swap::Slot(e.payload()), base + (k << kPageShift)});
      slots.push_back(swap::Slot(e.payload()));
    }
  }
  auto undo = [&](const Error& error) -> Status {
    // The block may hold data now: scrub it before it goes back.
    host::ByteRange r{block->value() << kPageShift, kExtentSize};
    if (mm_.backing().punch(std::span(&r, 1))) {
      pool.free_clean_block(*block, BuddyAllocator::kExtentOrder);
    } else {
      std::vector<Mfn> frames;
      for (uint64_t k = 0; k < kPagesPerExtent; ++k) frames.push_back(*block + k);
      pool.offer_hot(frames, /*force=*/true);
    }
    return prefixed(error, name_ + ": swap-in");
  };
  // Read straight into the new frames through the pool map (page-aligned, as O_DIRECT wants).
  Status st = ok();
  {
    std::lock_guard l(swap_mutex_);
    st = swap_ ? swap_->swap_in(in) : make_error(std::errc::io_error, "Swapped pages but no swap file");
  }
  if (!st) return undo(st.error());
  // The Empty pages of the extent come in as zeroes.
  for (uint64_t k = 0; k < kPagesPerExtent; ++k) {
    if (p2m_.load(first + k).state() == PageState::empty) std::memset(base + (k << kPageShift), 0, kPageSize);
  }
  st = window_->map_frames(off, block->value() << kPageShift, kExtentSize);
  if (st) {
    counters_.remaps.fetch_add(1, std::memory_order_relaxed);
    st = window_->fill_copy(off, std::span<const std::byte>(base, kExtentSize));
    if (!st) drop_ptes(first, kPagesPerExtent);
  }
  if (!st) {
    // Empty pages lose their hints (the window's view is unknown); Swapped ones keep their
    // slots, which carry no hint.
    for (uint64_t k = 0; k < kPagesPerExtent; ++k) {
      if (p2m_.load(first + k).state() == PageState::empty) p2m_.store(first + k, P2mEntry::frameless(PageState::empty, std::nullopt));
    }
    return undo(st.error());
  }
  for (uint64_t k = 0; k < kPagesPerExtent; ++k) {
    own(first + k, *block + k);
    p2m_.store(first + k, P2mEntry::present(*block + k));
  }
  swapped_in(slots);
  counters_.resident.fetch_add(kPagesPerExtent, std::memory_order_relaxed);
  lru_add(first, kPagesPerExtent);
  return wake_or_throttle(off, kExtentSize, over_high);
}

uint64_t GuestMm::swap_out_extent(std::span<const uint64_t> indices, bool* swap_refused) {
  if (indices.empty() || retired()) return 0;
  std::lock_guard lock(p2m_.extent_lock(indices.front() / kPagesPerExtent));
  std::vector<uint64_t> pages;
  std::vector<Mfn> frames;
  std::vector<uint64_t> back;  // isolated pages that stay
  for (uint64_t i : indices) {
    const P2mEntry e = p2m_.load(i);
    if (e.state() == PageState::present) {
      pages.push_back(i);
      frames.push_back(e.mfn());
    }
  }
  auto put_back = [&](std::span<const uint64_t> which) {
    std::lock_guard l(aging_mutex_);
    for (uint64_t i : which) lru_.putback(i);
  };
  if (pages.empty()) return 0;
  swap::SwapStore* store = swap_store();
  if (!store) {
    *swap_refused = true;
    put_back(pages);
    return 0;
  }
  auto charged = mm_.memcg().try_charge_swap(memcg_id_, pages.size());
  if (!charged || !charged->charged) {
    *swap_refused = true;
    put_back(pages);
    return 0;
  }
  // Nothing may write the pages while they are copied out: drop the window's PTEs first
  // (KVM's follow through the MMU notifier); an access now faults and waits for this lock.
  std::vector<host::ByteRange> zap;
  for (uint64_t i : pages) zap.push_back(host::ByteRange{i << kPageShift, kPageSize});
  Status st = window_->zap(host::coalesce(std::move(zap)));
  Result<std::vector<swap::Slot>> slots = make_error(std::errc::io_error, "not written");
  if (st) {
    std::vector<swap::PageOut> out;
    out.reserve(pages.size());
    for (size_t k = 0; k < pages.size(); ++k) {
      out.push_back(swap::PageOut{pages[k], mm_.backing().map() + (frames[k].value() << kPageShift)});
    }
    std::lock_guard l(swap_mutex_);
    slots = store->swap_out(out);
  }
  if (!st || !slots) {
    (void)mm_.memcg().uncharge_swap(memcg_id_, pages.size());
    put_back(pages);
    *swap_refused = true;
    log::warn("%s: swap-out of %zu pages: %s", name_.c_str(), pages.size(),
              (!st ? st.error() : slots.error()).message().c_str());
    return 0;
  }
  for (size_t k = 0; k < pages.size(); ++k) {
    Frame& f = mm_.frames()[frames[k]];
    f.owner = 0;
    f.gfn = 0;
    f.map_count = 0;
    f.flags = kFrameAllocated;
    p2m_.store(pages[k], P2mEntry::swapped((*slots)[k].value()));
  }
  lru_remove(pages);
  counters_.resident.fetch_sub(pages.size(), std::memory_order_relaxed);
  counters_.swapped.fetch_add(pages.size(), std::memory_order_relaxed);
  counters_.swap_out.fetch_add(pages.size(), std::memory_order_relaxed);
  uncharge(pages.size());
  (void)mm_.memcg().stat_add(memcg_id_, memcg::Stat::swap_out, pages.size());
  (void)mm_.memcg().stat_add(memcg_id_, memcg::Stat::reclaimed_swap, pages.size());
  ReleaseResult r;
  if (auto fs = free_frames_locked(pages, frames, false, r, /*ptes_dropped=*/true); !fs) {
    log::warn("%s: %s", name_.c_str(), fs.error().message().c_str());
  }
  return pages.size();
}

uint64_t GuestMm::swap_out_cold(uint64_t pages) {
  uint64_t freed = 0;
  bool refused = false;
  unsigned empty_passes = 0;
  // Passes that free nothing are allowed until the lists have been swept once: when every
  // page shows references (a guest writing all its memory), each pass deactivates some and
  // clears their evidence, so the sweep ends with victims, as the kernel's scan priority
  // rising does.
  uint64_t resident = 0;
  {
    std::lock_guard l(aging_mutex_);
    resident = lru_.nr_resident();
  }
  const uint64_t max_empty_passes = 3 + 2 * resident / kPagesPerExtent;
  while (freed < pages && !refused && !retired()) {
    std::vector<uint64_t> victims;
    {
      std::lock_guard l(aging_mutex_);
      (void)aging::shrink_lru(lru_, std::min<uint64_t>(pages - freed, kPagesPerExtent), swappiness(), victims);
    }
    if (victims.empty()) {
      // A pass with an empty inactive list only refills it; one more may find victims.
      if (++empty_passes > max_empty_passes) break;
      continue;
    }
    empty_passes = 0;
    std::sort(victims.begin(), victims.end());
    uint64_t got = 0;
    size_t k = 0;
    while (k < victims.size()) {
      size_t end = k;
      const uint64_t extent = victims[k] / kPagesPerExtent;
      while (end < victims.size() && victims[end] / kPagesPerExtent == extent) ++end;
      if (refused) {
        std::lock_guard l(aging_mutex_);
        for (size_t j = k; j < end; ++j) lru_.putback(victims[j]);
      } else {
        got += swap_out_extent(std::span(victims).subspan(k, end - k), &refused);
      }
      k = end;
    }
    freed += got;
    if (got == 0 && !refused && ++empty_passes > max_empty_passes) break;
  }
  return freed;
}

void GuestMm::sample_round(uint64_t max_samples) {
  if (retired()) return;
  aging::SampleRound round;
  {
    std::lock_guard l(aging_mutex_);
    round = sampler_.begin_round(lru_, max_samples);
    (void)aging::age_if_inactive_low(lru_);
  }
  if (round.to_unmap.empty()) return;
  std::vector<host::ByteRange> zap;
  for (const aging::PageRun& run : round.to_unmap) {
    zap.push_back(host::ByteRange{run.first << kPageShift, run.count << kPageShift});
  }
  // Only the PTEs go; the frames keep the data and the next access is a minor fault that
  // tells the sampler the page is in use.
  if (auto st = window_->zap(host::coalesce(std::move(zap))); !st) {
    log::warn("%s: aging sample: %s", name_.c_str(), st.error().message().c_str());
  }
}

uint64_t GuestMm::mark_dirty(uint64_t first_index, std::span<const uint64_t> bitmap, uint64_t nr_bits) {
  std::lock_guard l(aging_mutex_);
  return sampler_.mark_dirty(lru_, first_index, bitmap, nr_bits);
}

GuestReclaimInfo GuestMm::reclaim_info() const {
  GuestReclaimInfo info;
  {
    std::lock_guard l(aging_mutex_);
    info.lru_inactive = lru_.nr_inactive();
    info.lru_active = lru_.nr_active();
    info.lru_isolated = lru_.nr_isolated();
    info.lru_sampled = lru_.nr_sampled();
    info.sampler = sampler_.stats();
  }
  {
    std::lock_guard l(swap_mutex_);
    info.swap_created = swap_ != nullptr;
    info.swap_size_bytes = limits_.swap_bytes != 0 ? align_up(limits_.swap_bytes, kPageSize) : size_bytes();
    info.swap_directory = limits_.swap_directory.empty() ? host::default_swap_directory() : limits_.swap_directory;
    if (swap_) {
      info.swap_direct_io = swap_->file().direct_io();
      info.swap = swap_->stats();
    }
  }
  info.oom_policy = oom_policy();
  info.swappiness = swappiness();
  info.stalled = mm_.reclaim_engine().stalled(*this);
  return info;
}

void GuestMm::sync_memcg_stat() {
  const GuestMmStats s = stats();
  uint64_t ballooned = 0, reported = 0;
  for (uint64_t i = 0; i < p2m_.nr_pages(); ++i) {
    const PageState st = p2m_.load(i).state();
    ballooned += st == PageState::ballooned;
    reported += st == PageState::reported;
  }
  auto& tree = mm_.memcg();
  (void)tree.stat_set(memcg_id_, memcg::Stat::resident, s.resident_frames);
  (void)tree.stat_set(memcg_id_, memcg::Stat::ballooned, ballooned);
  (void)tree.stat_set(memcg_id_, memcg::Stat::reported, reported);
  (void)tree.stat_set(memcg_id_, memcg::Stat::swapped, s.swapped_pages);
  // faults and fault_around are counters: bring the tree's up to the guest's.
  auto snap = tree.snapshot(memcg_id_);
  if (!snap) return;
  if (s.faults > snap->stat[memcg::Stat::faults]) {
    (void)tree.stat_add(memcg_id_, memcg::Stat::faults, s.faults - snap->stat[memcg::Stat::faults]);
  }
  if (s.fault_around > snap->stat[memcg::Stat::fault_around]) {
    (void)tree.stat_add(memcg_id_, memcg::Stat::fault_around, s.fault_around - snap->stat[memcg::Stat::fault_around]);
  }
}

}  // namespace tide::gmm
