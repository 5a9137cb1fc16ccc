#include "guestmm/pool_allocator.hpp"

#include "guestmm/base/log.hpp"

namespace tide::gmm {

std::optional<Mfn> PoolAllocator::alloc_block(unsigned order) {
  std::lock_guard l(lock_);
  return buddy_.alloc(order);
}

bool PoolAllocator::alloc_exact(Mfn mfn, unsigned order) {
  std::lock_guard l(lock_);
  return buddy_.alloc_exact(mfn, order);
}

size_t PoolAllocator::alloc_frames(std::span<Mfn> out) {
  std::lock_guard l(lock_);
  size_t n = 0;
  while (n < out.size()) {
    auto m = buddy_.alloc(0);
    if (!m) break;
    out[n++] = *m;
  }
  return n;
}

std::optional<Mfn> PoolAllocator::take_hot() {
  std::lock_guard l(lock_);
  if (hot_.empty()) return std::nullopt;
  Mfn m(hot_.back());
  hot_.pop_back();
  frames_[m].flags = static_cast<uint16_t>(kFrameAllocated | kFrameResident);
  return m;
}

void PoolAllocator::free_clean(std::span<const Mfn> frames) {
  std::lock_guard l(lock_);
  for (Mfn m : frames) buddy_.free(m, 0);
}

void PoolAllocator::free_clean_block(Mfn mfn, unsigned order) {
  std::lock_guard l(lock_);
  buddy_.free(mfn, order);
}

size_t PoolAllocator::offer_hot(std::span<const Mfn> frames, bool force) {
  std::lock_guard l(lock_);
  size_t n = 0;
  for (Mfn m : frames) {
    if (!force && hot_.size() >= hot_max_) break;
    Frame& f = frames_[m];
    f.owner = 0;
    f.gfn = 0;
    f.map_count = 0;
    f.flags = static_cast<uint16_t>(kFrameAllocated | kFrameResident | kFrameHot);
    hot_.push_back(static_cast<uint32_t>(m.value()));
    ++n;
  }
  return n;
}

uint64_t PoolAllocator::hot_room() const {
  std::lock_guard l(lock_);
  return hot_.size() >= hot_max_ ? 0 : hot_max_ - hot_.size();
}

uint64_t PoolAllocator::free_frames() const {
  std::lock_guard l(lock_);
  return buddy_.free_frames();
}

uint64_t PoolAllocator::hot_frames() const {
  std::lock_guard l(lock_);
  return hot_.size();
}

Status PoolAllocator::check_invariants_locked() const {
  TIDE_TRY(buddy_.check_invariants());
  for (uint32_t m : hot_) {
    const Frame& f = frames_.at(m);
    if (!f.has(kFrameHot) || !f.has(kFrameAllocated) || f.owner != 0 || f.map_count != 0) {
      return make_error(std::errc::state_not_recoverable, log::strf("hot frame %u has bad metadata", m));
    }
  }
  return ok();
}

}  // namespace tide::gmm
