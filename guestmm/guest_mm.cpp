#include "guestmm/guest_mm.hpp"

#include <algorithm>
#include <cstring>

#include "guestmm/base/log.hpp"
#include "guestmm/memory_manager.hpp"

namespace tide::gmm {
namespace {

constexpr unsigned kExtentOrder = BuddyAllocator::kExtentOrder;

Error exhausted(const std::string& guest, uint64_t pool_bytes) {
  return make_error(std::errc::not_enough_memory,
                    log::strf("%s: the pool (%llu MiB) has no free frame left; give tide a larger --pool", guest.c_str(),
                              static_cast<unsigned long long>(pool_bytes >> 20)));
}

}  // namespace

GuestMm::GuestMm(MemoryManager& mm, uint16_t id, std::string name, P2m p2m, std::unique_ptr<host::WindowBacking> window,
                 memcg::MemcgId memcg_id, aging::PageLru lru, reclaim::GuestLimitsOptions limits)
    : mm_(mm), id_(id), name_(std::move(name)), p2m_(std::move(p2m)), window_(std::move(window)),
      cache_(mm.pool(), mm.frames()), memcg_id_(memcg_id), limits_(std::move(limits)),
      oom_policy_(limits_.oom_policy), swappiness_(std::min(limits_.swappiness, aging::kMaxSwappiness)),
      lru_(std::move(lru)) {}

GuestMm::~GuestMm() {
  // Every frame goes back to the pool, punched. The window goes with this object; nothing
  // may touch it any more (the VMM stops vCPUs and devices first).
  std::vector<uint64_t> all(p2m_.nr_pages());
  for (uint64_t i = 0; i < all.size(); ++i) all[i] = i;
  if (auto r = release_indices(std::move(all), PageState::empty, ReleaseResult{}); !r) {
    log::warn("%s: %s", name_.c_str(), r.error().message().c_str());
  }
  cache_.drain();
}

std::vector<MemoryRegion> GuestMm::regions() const {
  std::vector<MemoryRegion> out;
  uint64_t at = 0;
  for (const RamRange& r : p2m_.ranges()) {
    out.push_back(MemoryRegion{r.base, r.size_bytes, window_->base() + at});
    at += r.size_bytes;
  }
  return out;
}

void GuestMm::own(uint64_t index, Mfn mfn) {
  Frame& f = mm_.frames()[mfn];
  f.owner = id_;
  f.gfn = static_cast<uint32_t>(p2m_.gfn_at(index).value());
  f.map_count = 1;
  f.flags = static_cast<uint16_t>(kFrameAllocated | kFrameResident);
}

Status GuestMm::handle_fault(const host::WindowFault& fault) {
  const uint64_t index = fault.offset >> kPageShift;
  if (retired()) return window_->wake(fault.offset, kPageSize);
  if (index >= p2m_.nr_pages()) return make_error(std::errc::bad_address, name_ + ": fault outside guest RAM");
  const uint64_t extent = index / kPagesPerExtent;
  std::lock_guard lock(p2m_.extent_lock(extent));
  const P2mEntry e = p2m_.load(index);
  if (e.has_frame()) {
    // Another fault on this page was served first, the aging sampler dropped its PTE (a
    // read or write it wants to see), or the kernel dropped the PTE of a Present page: map
    // the frame that is already there.
    counters_.refills.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard aging(aging_mutex_);
      if (sampler_.on_fault(lru_, index)) counters_.sampled_faults.fetch_add(1, std::memory_order_relaxed);
    }
    TIDE_TRY(window_->fill_present(index << kPageShift, kPageSize));
    return window_->wake(index << kPageShift, kPageSize);
  }
  if (e.state() == PageState::foreign) {
    return make_error(std::errc::operation_not_supported,
                      log::strf("%s: fault on a %s page", name_.c_str(), page_state_name(e.state())));
  }
  if (dying()) {
    // Picked by the OOM policy: nothing more is charged; the teardown releases the thread.
    park(index << kPageShift, memcg_id_, false);
    return ok();
  }
  if (e.state() == PageState::swapped) return swap_in(index, e);
  if (p2m_.extent_pages(extent) == kPagesPerExtent) {
    // Fault-around only over an untouched extent: every page Empty. Ballooned, reported or
    // swapped pages are not the guest's to use now; filling them would undo the balloon (or
    // lose a swapped page's data) behind the guest's back.
    bool untouched = true;
    const uint64_t first = extent * kPagesPerExtent;
    for (uint64_t i = 0; i < kPagesPerExtent && untouched; ++i) untouched = p2m_.load(first + i).state() == PageState::empty;
    // The whole extent is charged only if it fits (a failed try would count a max event
    // for a charge that a single page may still satisfy).
    auto room = mm_.memcg().headroom(memcg_id_);
    if (untouched && room && *room >= kPagesPerExtent) {
      TIDE_TRY_ASSIGN(charge, mm_.memcg().try_charge(memcg_id_, kPagesPerExtent));
      if (charge.charged) {
        auto st = fault_extent(extent, !charge.over_high.empty());
        if (st) return st;
        uncharge(kPagesPerExtent);
        if (st.error().code != std::errc::not_enough_memory) return st;
        // No free 2 MiB block: serve the page alone.
      }
    }
  }
  TIDE_TRY_ASSIGN(charge, mm_.memcg().try_charge(memcg_id_, 1));
  if (!charge.charged) {
    park(index << kPageShift, charge.limited_by, false);
    return ok();
  }
  auto st = fault_page(index, !charge.over_high.empty());
  if (st) return st;
  uncharge(1);
  if (st.error().code == std::errc::not_enough_memory) {
    // The pool is empty: the fault waits while the reclaimer looks for frames across guests.
    park(index << kPageShift, memcg::kRootId, true);
    return ok();
  }
  return st;
}

std::optional<Mfn> GuestMm::extent_block_hint(uint64_t extent) const {
  // The window keeps viewing released frames; if it views one aligned 2 MiB block in
  // order, taking that same block back needs no window change.
  const uint64_t first = extent * kPagesPerExtent;
  auto head = p2m_.load(first).window_frame();
  if (!head || (head->value() & (kPagesPerExtent - 1)) != 0) return std::nullopt;
  for (uint64_t i = 1; i < kPagesPerExtent; ++i) {
    auto f = p2m_.load(first + i).window_frame();
    if (!f || *f != *head + i) return std::nullopt;
  }
  return head;
}

Status GuestMm::fault_extent(uint64_t extent, bool over_high) {
  PoolAllocator& pool = mm_.pool();
  std::optional<Mfn> block;
  bool remap = true;
  if (auto hint = extent_block_hint(extent); hint && pool.alloc_exact(*hint, kExtentOrder)) {
    block = hint;
    remap = false;
  } else {
    block = pool.alloc_block(kExtentOrder);
    // Under pressure, frames the scrubber has not returned yet are worth waiting for.
    if (!block && mm_.scrubber().pending() > 0 && mm_.scrubber().flush()) block = pool.alloc_block(kExtentOrder);
  }
  if (!block) return exhausted(name_, mm_.pool_bytes());
  const uint64_t first = extent * kPagesPerExtent;
  const uint64_t off = first << kPageShift;
  Status st = ok();
  if (remap) {
    st = window_->map_frames(off, block->value() << kPageShift, kExtentSize);
    if (st) counters_.remaps.fetch_add(1, std::memory_order_relaxed);
    remember_window(first, kPagesPerExtent, st ? block : std::nullopt);
  }
  if (st) st = window_->fill_zero(off, kExtentSize);
  if (!st) {
    // The block may have been partly populated: scrub it before it goes back.
    host::ByteRange r{block->value() << kPageShift, kExtentSize};
    if (mm_.backing().punch(std::span(&r, 1))) {
      pool.free_clean_block(*block, kExtentOrder);
    } else {
      // Not scrubbed, so kept hot; the pages the fill reached have PTEs that no punch
      // dropped, and a hot frame can go to another guest at once.
      drop_ptes(first, kPagesPerExtent);
      std::vector<Mfn> frames;
      for (uint64_t i = 0; i < kPagesPerExtent; ++i) frames.push_back(*block + i);
      pool.offer_hot(frames, /*force=*/true);
    }
    return prefixed(st.error(), name_);
  }
  for (uint64_t i = 0; i < kPagesPerExtent; ++i) {
    own(first + i, *block + i);
    p2m_.store(first + i, P2mEntry::present(*block + i));
  }
  counters_.faults.fetch_add(1, std::memory_order_relaxed);
  counters_.fault_around.fetch_add(1, std::memory_order_relaxed);
  counters_.resident.fetch_add(kPagesPerExtent, std::memory_order_relaxed);
  lru_add(first, kPagesPerExtent);
  // Only now, with the P2M published, may the faulting threads go on.
  return wake_or_throttle(off, kExtentSize, over_high);
}

std::optional<GuestMm::FrameChoice> GuestMm::take_frame(uint64_t index) {
  PoolAllocator& pool = mm_.pool();
  const P2mEntry e = p2m_.load(index);
  if (auto hint = e.window_frame(); hint && (cache_.take(*hint) || pool.alloc_exact(*hint, 0))) {
    return FrameChoice{*hint, false, false};
  }
  // A frame next to what the window views beside this page keeps the window one mapping
  // (the kernel merges views of consecutive pool pages): without this, pages brought back
  // one by one (swap-in, refaults after a release) would each cost a VMA, and a process
  // has only vm.max_map_count of them.
  for (int side : {-1, 1}) {
    if ((side < 0 && index == 0) || (side > 0 && index + 1 >= p2m_.nr_pages())) continue;
    const auto next = p2m_.load(side < 0 ? index - 1 : index + 1).window_frame();
    if (!next || (side > 0 && next->value() == 0)) continue;
    const Mfn want = side < 0 ? *next + 1 : *next - 1;
    if (want.value() < mm_.frames().size() && (cache_.take(want) || pool.alloc_exact(want, 0))) {
      return FrameChoice{want, false, true};
    }
  }
  std::optional<Mfn> mfn = cache_.alloc();
  if (!mfn && mm_.scrubber().pending() > 0 && mm_.scrubber().flush()) mfn = cache_.alloc();
  if (mfn) return FrameChoice{*mfn, false, true};
  if (auto hot = pool.take_hot()) return FrameChoice{*hot, true, true};
  return std::nullopt;
}

void GuestMm::return_frame(const FrameChoice& c) {
  if (c.hot) {
    mm_.pool().offer_hot(std::span(&c.mfn, 1), /*force=*/true);
    return;
  }
  host::ByteRange r{c.mfn.value() << kPageShift, kPageSize};
  if (mm_.backing().punch(std::span(&r, 1))) cache_.free(c.mfn);
  else mm_.pool().offer_hot(std::span(&c.mfn, 1), /*force=*/true);
}

Status GuestMm::fault_page(uint64_t index, bool over_high) {
  auto choice = take_frame(index);
  if (!choice) return exhausted(name_, mm_.pool_bytes());
  const Mfn mfn = choice->mfn;
  const uint64_t off = index << kPageShift;
  Status st = ok();
  if (choice->remap) {
    st = window_->map_frames(off, mfn.value() << kPageShift, kPageSize);
    if (st) counters_.remaps.fetch_add(1, std::memory_order_relaxed);
    remember_window(index, 1, st ? std::optional(mfn) : std::nullopt);
  }
  if (st) {
    if (choice->hot) {
      // A hot frame still holds its last owner's bytes: zero it through the pool map
      // before this guest can see it.
      std::memset(mm_.backing().map() + (mfn.value() << kPageShift), 0, kPageSize);
      st = window_->fill_present(off, kPageSize);
      counters_.hot_reuses.fetch_add(1, std::memory_order_relaxed);
    } else {
      st = window_->fill_zero(off, kPageSize);
    }
  }
  if (!st) {
    return_frame(*choice);
    return prefixed(st.error(), name_);
  }
  own(index, mfn);
  p2m_.store(index, P2mEntry::present(mfn));
  counters_.faults.fetch_add(1, std::memory_order_relaxed);
  counters_.resident.fetch_add(1, std::memory_order_relaxed);
  lru_add(index, 1);
  return wake_or_throttle(off, kPageSize, over_high);
}

void GuestMm::remember_window(uint64_t first, uint64_t count, std::optional<Mfn> first_frame) {
  // Only on a failed fault, when the pages stay frameless: keep each page's state, and make
  // its hint name what the window views now (the new frames), or nothing if that is unknown
  // (a failed map may leave the old view, or the placeholder). A stale hint would let a
  // later fault reuse the old frame without a remap and fill through a view of another one.
  for (uint64_t i = 0; i < count; ++i) {
    const P2mEntry e = p2m_.load(first + i);
    if (e.has_frame()) continue;
    const std::optional<Mfn> view = first_frame ? std::optional<Mfn>(*first_frame + i) : std::nullopt;
    p2m_.store(first + i, P2mEntry::frameless(e.state(), view));
  }
}

void GuestMm::drop_ptes(uint64_t first, uint64_t count) {
  const host::ByteRange r{first << kPageShift, count << kPageShift};
  if (auto st = window_->zap(std::span(&r, 1)); !st) {
    log::error("%s: drop window mappings after a failed scrub: %s", name_.c_str(), st.error().message().c_str());
  }
}

Result<ReleaseResult> GuestMm::release(std::span<const Gfn> gfns, PageState to, ReleaseOptions options) {
  ReleaseResult r;
  r.requested = gfns.size();
  std::vector<uint64_t> indices;
  indices.reserve(gfns.size());
  for (Gfn g : gfns) {
    if (auto i = p2m_.index_of(g)) indices.push_back(*i);
    else ++r.outside;
  }
  return release_indices(std::move(indices), to, r, options);
}

Result<ReleaseResult> GuestMm::release_range(Gfn first, uint64_t count, PageState to, ReleaseOptions options) {
  // The count may come from a guest: never size anything by it beyond the guest's RAM.
  if (count > p2m_.nr_pages()) {
    return make_error(std::errc::invalid_argument,
                      log::strf("%s: a release of %llu pages is larger than the guest", name_.c_str(),
                                static_cast<unsigned long long>(count)));
  }
  ReleaseResult r;
  r.requested = count;
  std::vector<uint64_t> indices;
  for (uint64_t k = 0; k < count; ++k) {
    if (auto i = p2m_.index_of(first + k)) indices.push_back(*i);
    else ++r.outside;
  }
  return release_indices(std::move(indices), to, r, options);
}

Result<ReleaseResult> GuestMm::release_indices(std::vector<uint64_t> indices, PageState to, ReleaseResult r,
                                               ReleaseOptions options) {
  if (to == PageState::present || to == PageState::shared || to == PageState::swapped || to == PageState::foreign) {
    return make_error(std::errc::invalid_argument, "release: the target state must be frameless");
  }
  counters_.release_calls.fetch_add(1, std::memory_order_relaxed);
  // Callers often pass runs already in order (a balloon driver takes pages from its
  // allocator one after the other, either way up): sorting them would cost more than the
  // release itself.
  if (!std::is_sorted(indices.begin(), indices.end())) {
    if (std::is_sorted(indices.rbegin(), indices.rend())) std::reverse(indices.begin(), indices.end());
    else std::sort(indices.begin(), indices.end());
  }
  const size_t before = indices.size();
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  r.duplicates += before - indices.size();
  if (indices.empty()) return r;

  // Lock every extent involved, in ascending order (the only multi-extent locker, so no
  // deadlock with faults, which take one extent at a time).
  std::vector<std::unique_lock<std::mutex>> locks;
  uint64_t last_extent = UINT64_MAX;
  for (uint64_t i : indices) {
    uint64_t e = i / kPagesPerExtent;
    if (e != last_extent) {
      locks.emplace_back(p2m_.extent_lock(e));
      last_extent = e;
    }
  }
  std::vector<uint64_t> stale_ptes;   // frameless pages whose old PTE may still be there
  std::vector<uint64_t> freed_pages;  // page indices whose frames were taken
  std::vector<Mfn> freed;             // their frames, in the same order
  std::vector<swap::Slot> slots;      // swap slots of Swapped pages released
  for (uint64_t i : indices) {
    const P2mEntry e = p2m_.load(i);
    if (e.has_frame() && options.only_frameless) {
      ++r.kept;
    } else if (e.has_frame()) {
      const Mfn m = e.mfn();
      Frame& f = mm_.frames()[m];
      f.owner = 0;
      f.gfn = 0;
      f.map_count = 0;
      f.flags = kFrameAllocated;
      freed_pages.push_back(i);
      freed.push_back(m);
      p2m_.store(i, P2mEntry::frameless(to, m));
    } else if (e.state() == PageState::swapped && options.only_frameless) {
      ++r.kept;  // the guest's data, in the swap file
    } else {
      ++r.frameless;
      if (e.state() == PageState::swapped) {
        // The data is no longer wanted: the slot goes back and the page has no hint.
        slots.push_back(swap::Slot(e.payload()));
        p2m_.store(i, P2mEntry::frameless(to, std::nullopt));
        continue;
      }
      if (e.state() != to) p2m_.store(i, P2mEntry::frameless(to, e.window_frame()));
      // A page released earlier with guest_keeps_off may still have a PTE on its old frame
      // until the scrubber gets there; a page becoming Empty is one the guest may touch.
      if (to == PageState::empty && e.state() != PageState::empty) {
        if (auto wf = e.window_frame(); wf && mm_.frames()[*wf].has(kFrameScrub)) stale_ptes.push_back(i);
      }
    }
  }
  if (!slots.empty()) {
    std::lock_guard l(swap_mutex_);
    if (auto st = swap_ ? swap_->release(slots) : ok(); !st) log::error("%s: %s", name_.c_str(), st.error().message().c_str());
    if (auto st = mm_.memcg().uncharge_swap(memcg_id_, slots.size()); !st) {
      log::error("%s: %s", name_.c_str(), st.error().message().c_str());
    }
    counters_.swapped.fetch_sub(slots.size(), std::memory_order_relaxed);
  }
  if (!stale_ptes.empty() && !retired()) {
    std::vector<host::ByteRange> zap;
    for (uint64_t i : stale_ptes) zap.push_back(host::ByteRange{i << kPageShift, kPageSize});
    if (auto zapped = window_->zap(host::coalesce(std::move(zap))); !zapped) {
      // Make sure by waiting for the scrubber, whose punch removes them.
      log::warn("%s: %s; waiting for the scrubber", name_.c_str(), zapped.error().message().c_str());
      TIDE_TRY(mm_.scrubber().flush());
    }
  }
  r.released = freed.size();
  counters_.resident.fetch_sub(freed.size(), std::memory_order_relaxed);
  counters_.released.fetch_add(freed.size(), std::memory_order_relaxed);
  if (to == PageState::ballooned) {
    counters_.ballooned.fetch_add(freed.size(), std::memory_order_relaxed);
    counters_.ballooned_pages.fetch_add(freed.size() + r.frameless, std::memory_order_relaxed);
  }
  if (freed.empty()) return r;
  lru_remove(freed_pages);
  uncharge(freed.size());
  TIDE_TRY(free_frames_locked(freed_pages, freed, options.guest_keeps_off, r, /*ptes_dropped=*/false));
  return r;
}

Status GuestMm::free_frames_locked(std::span<const uint64_t> freed_pages, std::span<const Mfn> freed, bool keeps_off,
                                   ReleaseResult& r, bool ptes_dropped) {
  PoolAllocator& pool = mm_.pool();
  auto zap_pages = [&](size_t from, size_t to) -> Status {
    if (ptes_dropped) return ok();
    std::vector<host::ByteRange> zap;
    for (size_t k = from; k < to; ++k) zap.push_back(host::ByteRange{freed_pages[k] << kPageShift, kPageSize});
    return window_->zap(host::coalesce(std::move(zap)));
  };
  if (Scrubber* scrubber = mm_.async_scrubber()) {
    // Deferred scrubbing: drop every PTE the window has on these pages now (so nothing this
    // guest does reaches the old frames: its next touch faults), keep what the hot list
    // wants, and leave the punching to the scrubber. If the PTEs cannot be dropped, fall
    // through to punching here, which drops them too.
    // With guest_keeps_off only the frames going hot need their PTEs dropped now (a hot
    // frame can go to another guest at once); the scrubber's punch removes the others.
    const size_t room = std::min<uint64_t>(freed.size(), pool.hot_room());
    const size_t zap_count = keeps_off ? room : freed.size();
    if (auto zapped = zap_pages(0, zap_count)) {
      const size_t hot = pool.offer_hot(freed.subspan(0, room));
      scrubber->enqueue(freed.subspan(hot));
      return ok();
    } else {
      log::warn("%s: drop window mappings of released pages: %s; punching them now", name_.c_str(),
                zapped.error().message().c_str());
    }
  }
  // Synchronous scrubbing. The pool may keep a prefix of the frames hot (resident). No
  // punch will remove the window's PTEs for those, so drop them first: once on the hot
  // list a frame can go to another guest at once, and a PTE left behind would let this
  // guest reach it. If they cannot be dropped, the frames are punched (which drops them)
  // instead of kept.
  size_t hot = 0;
  if (const size_t room = std::min<uint64_t>(freed.size(), pool.hot_room()); room > 0) {
    if (auto zapped = zap_pages(0, room)) {
      hot = pool.offer_hot(freed.subspan(0, room));
    } else {
      log::warn("%s: drop window mappings of hot frames: %s; punching them instead", name_.c_str(),
                zapped.error().message().c_str());
    }
  }
  // Punch the rest in coalesced pool ranges: this returns the host memory, guarantees the
  // frames read as zeroes, and removes every PTE that maps them (window views included).
  std::vector<host::ByteRange> ranges;
  for (size_t k = hot; k < freed.size(); ++k) ranges.push_back(host::ByteRange{freed[k].value() << kPageShift, kPageSize});
  ranges = host::coalesce(std::move(ranges));
  r.punched_ranges = ranges.size();
  Status punched = mm_.backing().punch(ranges);
  std::span<const Mfn> rest = freed.subspan(hot);
  if (!punched) {
    // Not scrubbed: keep them resident and zero them before reuse. The punch may not have
    // dropped their PTEs either; drop them before the frames reach the hot list.
    if (auto zapped = zap_pages(hot, freed.size()); !zapped) {
      log::error("%s: drop window mappings after a failed scrub: %s", name_.c_str(), zapped.error().message().c_str());
    }
    pool.offer_hot(rest, /*force=*/true);
    return prefixed(punched.error(), name_ + ": scrub released frames");
  }
  // Still under the extent locks: until the frames are on a list, an audit (which takes
  // every extent lock) would find them nowhere.
  if (rest.size() <= FrameCache::kBatch) {
    for (Mfn m : rest) cache_.free(m);
  } else {
    pool.free_clean(rest);
  }
  return ok();
}

Status GuestMm::retire_window() {
  auto locks = lock_all();  // no fault or release is half-way through the window
  retired_.store(true, std::memory_order_release);
  return window_->retire();
}

GuestMmStats GuestMm::stats() const {
  GuestMmStats s;
  s.resident_frames = counters_.resident.load(std::memory_order_relaxed);
  s.faults = counters_.faults.load(std::memory_order_relaxed);
  s.fault_around = counters_.fault_around.load(std::memory_order_relaxed);
  s.refills = counters_.refills.load(std::memory_order_relaxed);
  s.frames_released = counters_.released.load(std::memory_order_relaxed);
  s.release_calls = counters_.release_calls.load(std::memory_order_relaxed);
  s.window_remaps = counters_.remaps.load(std::memory_order_relaxed);
  s.hot_reuses = counters_.hot_reuses.load(std::memory_order_relaxed);
  s.swapped_pages = counters_.swapped.load(std::memory_order_relaxed);
  s.swap_in = counters_.swap_in.load(std::memory_order_relaxed);
  s.swap_out = counters_.swap_out.load(std::memory_order_relaxed);
  s.ballooned_frames = counters_.ballooned.load(std::memory_order_relaxed);
  s.ballooned_pages = counters_.ballooned_pages.load(std::memory_order_relaxed);
  s.throttled_faults = counters_.throttled.load(std::memory_order_relaxed);
  s.sampled_faults = counters_.sampled_faults.load(std::memory_order_relaxed);
  {
    std::lock_guard l(parked_.mutex);
    s.parked_faults = parked_.faults.size();
  }
  return s;
}

std::vector<std::unique_lock<std::mutex>> GuestMm::lock_all() const {
  std::vector<std::unique_lock<std::mutex>> locks;
  for (uint64_t e = 0; e < p2m_.nr_extents(); ++e) locks.emplace_back(p2m_.extent_lock(e));
  return locks;
}

Status GuestMm::check_invariants_locked(std::vector<uint8_t>& seen, uint64_t* present) const {
  auto broken = [&](const std::string& what) {
    return make_error(std::errc::state_not_recoverable, name_ + ": " + what);
  };
  TIDE_TRY(window_->snapshot_mappings());
  uint64_t count = 0, swapped = 0;
  std::lock_guard swap_lock(swap_mutex_);
  for (uint64_t i = 0; i < p2m_.nr_pages(); ++i) {
    const P2mEntry e = p2m_.load(i);
    if (e.state() == PageState::swapped) {
      ++swapped;
      const std::optional<uint64_t> owner = swap_ ? swap_->owner(swap::Slot(e.payload())) : std::nullopt;
      if (owner != i) {
        return broken(log::strf("GFN 0x%llx is Swapped at slot %llu, which does not hold it",
                                static_cast<unsigned long long>(p2m_.gfn_at(i).value()),
                                static_cast<unsigned long long>(e.payload())));
      }
      continue;
    }
    if (!e.has_frame()) continue;
    const Mfn m = e.mfn();
    const unsigned long long gfn = p2m_.gfn_at(i).value(), mfn = m.value();
    if (m.value() >= seen.size()) return broken(log::strf("GFN 0x%llx maps frame %llu outside the pool", gfn, mfn));
    if (seen[m.value()]++) return broken(log::strf("frame %llu is mapped twice (GFN 0x%llx)", mfn, gfn));
    const Frame& f = mm_.frames()[m];
    if (!f.has(kFrameAllocated)) return broken(log::strf("GFN 0x%llx maps free frame %llu", gfn, mfn));
    if (f.owner != id_ || f.gfn != gfn) {
      return broken(log::strf("frame %llu's rmap says guest %u GFN 0x%x, the P2M says guest %u GFN 0x%llx", mfn, f.owner,
                              f.gfn, id_, gfn));
    }
    if (f.map_count != 1) return broken(log::strf("frame %llu: map count %u, rmap entries 1", mfn, f.map_count));
    if (!f.has(kFrameResident) || f.has(kFrameHot) || f.has(kFrameCached)) {
      return broken(log::strf("frame %llu of GFN 0x%llx has bad flags 0x%x", mfn, gfn, f.flags));
    }
    // A retired window views no frame any more, by design, until the guest is removed.
    if (retired()) {
      ++count;
      continue;
    }
    TIDE_TRY_ASSIGN(view, window_->pool_offset_at(i << kPageShift));
    if (!view || *view != (m.value() << kPageShift)) {
      return broken(log::strf("the window at GFN 0x%llx does not view frame %llu (the P2M says it is Present there)", gfn, mfn));
    }
    ++count;
  }
  if (count != counters_.resident.load()) {
    return broken(log::strf("%llu pages are Present but the resident count is %llu", static_cast<unsigned long long>(count),
                            static_cast<unsigned long long>(counters_.resident.load())));
  }
  if (swapped != counters_.swapped.load()) {
    return broken(log::strf("%llu pages are Swapped but the swapped count is %llu", static_cast<unsigned long long>(swapped),
                            static_cast<unsigned long long>(counters_.swapped.load())));
  }
  if (swap_) TIDE_TRY(swap_->check_invariants());
  *present = count;
  return ok();
}

}  // namespace tide::gmm
