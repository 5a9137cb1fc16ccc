#include "guestmm/memory_manager.hpp"

#include <algorithm>

#include "guestmm/base/log.hpp"

namespace tide::gmm {

MemoryManager::MemoryManager() = default;

Result<std::unique_ptr<MemoryManager>> MemoryManager::create(host::HostMemory& host, MemoryManagerOptions options) {
  std::unique_ptr<MemoryManager> mm(new MemoryManager());
  mm->host_ = &host;
  const uint64_t size = align_up(std::max<uint64_t>(options.pool_bytes, kExtentSize), kExtentSize);
  TIDE_TRY_ASSIGN(backing, host.create_pool(size));
  mm->backing_ = std::move(backing);
  TIDE_TRY_ASSIGN(frames, FrameTable::create(size >> kPageShift));
  mm->frames_ = std::move(frames);
  mm->pool_ = std::make_unique<PoolAllocator>(mm->frames_, options.hot_frames);
  mm->async_scrub_ = options.async_scrub;
  mm->scrubber_ = std::make_unique<Scrubber>(*mm->backing_, *mm->pool_, mm->frames_, options.async_scrub);
  if (options.fault_server) {
    auto on_error = options.on_fault_error ? options.on_fault_error : [](GuestMm& g, const Error& e) {
      log::error("%s: %s", g.name().c_str(), e.message().c_str());
    };
    TIDE_TRY_ASSIGN(faults, FaultServer::create(std::move(on_error)));
    mm->faults_ = std::move(faults);
  }
  if (options.swap_files) mm->swap_files_ = options.swap_files;
  // The root is the host: it can charge no more than the pool holds.
  TIDE_TRY(mm->memcg_.set_limit(memcg::kRootId, memcg::Limit::max, size >> kPageShift));
  mm->engine_ = std::make_unique<reclaim::ReclaimEngine>(*mm, options.reclaim);
  // A raised limit (or a failed lowering put back) may let parked faults go on.
  mm->raise_listener_ = mm->memcg_.limit_listeners().add([e = mm->engine_.get()](const memcg::LimitRaise&) { e->notify(); });
  mm->engine_->start();
  return mm;
}

MemoryManager::~MemoryManager() {
  if (engine_) engine_->stop();
  if (raise_listener_ != 0) memcg_.limit_listeners().remove(raise_listener_);
  std::vector<std::unique_ptr<GuestMm>> guests;
  {
    std::lock_guard l(guests_mutex_);
    guests.swap(guests_);
  }
  for (auto& g : guests) {
    if (faults_) faults_->remove(*g);
    const memcg::MemcgId leaf = g->memcg_id();
    g.reset();
    (void)memcg_.remove(leaf);
  }
  faults_.reset();
}

Result<GuestMm*> MemoryManager::add_guest(const std::string& name, const std::vector<RamRange>& ranges,
                                          reclaim::GuestLimitsOptions limits) {
  TIDE_TRY_ASSIGN(p2m, P2m::create(ranges));
  TIDE_TRY_ASSIGN(lru, aging::PageLru::create(p2m.nr_pages()));
  TIDE_TRY_ASSIGN(window, host_->create_window(*backing_, p2m.nr_pages() << kPageShift));
  TIDE_TRY_ASSIGN(leaf, memcg_.create_guest(limits.parent, name));
  std::lock_guard l(guests_mutex_);
  uint16_t id = 1;
  while (true) {
    bool used = false;
    for (auto& g : guests_) used |= g->id() == id;
    if (!used) break;
    if (++id == 0) {
      (void)memcg_.remove(leaf);
      return make_error(std::errc::too_many_files_open, "too many guests");
    }
  }
  auto guest = std::make_unique<GuestMm>(*this, id, name, std::move(p2m), std::move(window), leaf, std::move(lru),
                                         std::move(limits));
  if (faults_) {
    if (auto st = faults_->add(*guest); !st) {
      guest.reset();
      (void)memcg_.remove(leaf);
      return st.error();
    }
  }
  guests_.push_back(std::move(guest));
  return guests_.back().get();
}

void MemoryManager::remove_guest(GuestMm* guest) {
  {
    std::lock_guard l(guests_mutex_);
    if (std::none_of(guests_.begin(), guests_.end(), [&](const auto& g) { return g.get() == guest; })) return;
  }
  // The reclaimer finishes what it does with this guest first, and forgets it.
  auto work = engine_->lock();
  engine_->forget(*guest);
  // Not under guests_mutex_: the fault server may be inside on_error, which may ask for
  // stats().
  if (faults_) faults_->remove(*guest);
  std::unique_ptr<GuestMm> owned;
  std::lock_guard l(guests_mutex_);
  for (auto it = guests_.begin(); it != guests_.end(); ++it) {
    if (it->get() == guest) {
      owned = std::move(*it);
      guests_.erase(it);
      break;
    }
  }
  // Its frames go back to the pool under guests_mutex_, so an audit never sees them
  // between an unlisted guest and the pool.
  const memcg::MemcgId leaf = owned->memcg_id();
  owned.reset();
  // Every page was released (uncharged, swap slots freed): the leaf goes, and the OOM
  // policy may pick again under its ancestors.
  if (auto st = memcg_.remove(leaf); !st) log::error("memcg: %s", st.error().message().c_str());
  oom_.forget(leaf);
  // ... and are clean and free before this returns: the pool is whole again.
  if (auto st = scrubber_->flush(); !st) log::warn("%s", st.error().message().c_str());
}

std::vector<GuestMm*> MemoryManager::guests() const {
  std::lock_guard l(guests_mutex_);
  std::vector<GuestMm*> out;
  for (const auto& g : guests_) out.push_back(g.get());
  return out;
}

GuestMm* MemoryManager::find_guest(const std::string& name) const {
  std::lock_guard l(guests_mutex_);
  for (const auto& g : guests_) {
    if (g->name() == name) return g.get();
  }
  return nullptr;
}

Status MemoryManager::set_memcg_limit(memcg::MemcgId id, memcg::Limit limit, uint64_t pages) {
  if (limit == memcg::Limit::max) {
    // Reclaim first, under the old max: the balloon needs the guest running (its driver
    // touches pages to inflate), which it cannot do if its faults already wait at the new
    // max. It goes a watermark below the new max, so the guest does not meet the limit on
    // its next page. set_max then takes the rest, bounded, under the new one.
    auto snap = memcg_.snapshot(id);
    const uint64_t goal = pages - std::min(pages, reclaim::ReclaimEngine::watermark(pages));
    if (snap && snap->current > pages) (void)engine_->reclaim(id, snap->current - goal);
    return memcg_.set_max(id, pages, *engine_);
  }
  TIDE_TRY(memcg_.set_limit(id, limit, pages));
  // A lower high means reclaim now.
  engine_->notify();
  return ok();
}

PoolStats MemoryManager::stats() const {
  PoolStats s;
  s.total_frames = pool_->total_frames();
  s.free_frames = pool_->free_frames();
  s.hot_frames = pool_->hot_frames();
  {
    std::lock_guard l(guests_mutex_);
    s.guests = guests_.size();
    for (const auto& g : guests_) {
      s.cached_frames += g->cache().size();
      s.used_frames += g->stats().resident_frames;
    }
  }
  s.scrubbing_frames = scrubber_->pending();
  s.scrubbed_frames = scrubber_->scrubbed_frames();
  s.resident_bytes = backing_->resident_bytes();
  s.punch_calls = backing_->punch_calls();
  return s;
}

Status MemoryManager::check_invariants() const {
  std::lock_guard gl(guests_mutex_);
  std::vector<std::vector<std::unique_lock<std::mutex>>> extent_locks;
  for (const auto& g : guests_) extent_locks.push_back(g->lock_all());
  std::vector<uint8_t> seen(frames_.size(), 0);
  uint64_t mapped = 0, cached = 0;
  for (const auto& g : guests_) {
    uint64_t present = 0;
    TIDE_TRY(g->check_invariants_locked(seen, &present));
    mapped += present;
    // Charges are taken and dropped only under extent locks, all held here: the guest's
    // memcg usage is exactly its resident frames, and its swap usage its Swapped pages.
    TIDE_TRY_ASSIGN(snap, memcg_.snapshot(g->memcg_id()));
    const GuestMmStats gs = g->stats();
    if (snap.current != present || snap.swap_current != gs.swapped_pages) {
      return make_error(std::errc::state_not_recoverable,
                        log::strf("%s: memcg charges %llu pages and %llu swap slots, but %llu pages are resident and "
                                  "%llu swapped",
                                  g->name().c_str(), static_cast<unsigned long long>(snap.current),
                                  static_cast<unsigned long long>(snap.swap_current),
                                  static_cast<unsigned long long>(present),
                                  static_cast<unsigned long long>(gs.swapped_pages)));
    }
  }
  TIDE_TRY(memcg_.check_invariants());
  Status cache_status = ok();
  for (const auto& g : guests_) {
    g->cache().for_each_locked([&](Mfn m) {
      ++cached;
      const Frame& f = frames_[m];
      if (cache_status && (seen[m.value()]++ || !f.has(kFrameCached) || !f.has(kFrameAllocated) || f.owner != 0)) {
        cache_status = make_error(std::errc::state_not_recoverable,
                                  log::strf("cached frame %llu is also mapped or has bad metadata",
                                            static_cast<unsigned long long>(m.value())));
      }
    });
  }
  TIDE_TRY(cache_status);
  auto sl = scrubber_->lock();
  uint64_t scrubbing = 0;
  Status scrub_status = ok();
  scrubber_->for_each_pending_locked([&](Mfn m) {
    ++scrubbing;
    const Frame& f = frames_[m];
    if (scrub_status && (seen[m.value()]++ || !f.has(kFrameScrub) || !f.has(kFrameAllocated) || f.owner != 0)) {
      scrub_status = make_error(std::errc::state_not_recoverable,
                                log::strf("frame %llu waiting for the scrubber is also mapped elsewhere or has bad metadata",
                                          static_cast<unsigned long long>(m.value())));
    }
  });
  TIDE_TRY(scrub_status);
  auto pl = pool_->lock();
  TIDE_TRY(pool_->check_invariants_locked());
  for (uint32_t m : pool_->hot_list_locked()) {
    if (seen[m]++) {
      return make_error(std::errc::state_not_recoverable, log::strf("hot frame %u is also mapped or cached", m));
    }
  }
  const uint64_t hot = pool_->hot_list_locked().size();
  const uint64_t free = pool_->free_frames_locked();
  if (free + cached + hot + scrubbing + mapped != frames_.size()) {
    return make_error(std::errc::state_not_recoverable,
                      log::strf("frames unaccounted for: %llu free + %llu cached + %llu hot + %llu scrubbing + %llu mapped "
                                "!= %llu in the pool",
                                static_cast<unsigned long long>(free), static_cast<unsigned long long>(cached),
                                static_cast<unsigned long long>(hot), static_cast<unsigned long long>(scrubbing),
                                static_cast<unsigned long long>(mapped), static_cast<unsigned long long>(frames_.size())));
  }
  return ok();
}

}  // namespace tide::gmm
