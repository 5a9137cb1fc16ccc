#include "guestmm/frame_cache.hpp"

#include <mutex>

namespace tide::gmm {

std::optional<Mfn> FrameCache::alloc() {
  std::lock_guard l(lock_);
  if (n_ == 0) {
    std::array<Mfn, kBatch> batch;
    size_t got = pool_.alloc_frames(batch);
    for (size_t i = 0; i < got; ++i) {
      frames_[batch[i]].flags = static_cast<uint16_t>(kFrameAllocated | kFrameCached);
      frames_cached_[n_++] = static_cast<uint32_t>(batch[i].value());
    }
    if (n_ == 0) return std::nullopt;
  }
  Mfn m(frames_cached_[--n_]);
  frames_[m].flags = kFrameAllocated;
  return m;
}

void FrameCache::free(Mfn mfn) {
  std::lock_guard l(lock_);
  if (n_ == kCapacity) drain_locked(kCapacity - kBatch);
  Frame& f = frames_[mfn];
  f.owner = 0;
  f.gfn = 0;
  f.map_count = 0;
  f.flags = static_cast<uint16_t>(kFrameAllocated | kFrameCached);
  frames_cached_[n_++] = static_cast<uint32_t>(mfn.value());
}

bool FrameCache::take(Mfn mfn) {
  std::lock_guard l(lock_);
  for (size_t i = n_; i-- > 0;) {
    if (frames_cached_[i] != mfn.value()) continue;
    frames_cached_[i] = frames_cached_[--n_];
    frames_[mfn].flags = kFrameAllocated;
    return true;
  }
  return false;
}

void FrameCache::drain() {
  std::lock_guard l(lock_);
  drain_locked(0);
}

void FrameCache::drain_locked(size_t keep) {
  if (n_ <= keep) return;
  std::array<Mfn, kCapacity> out;
  size_t k = 0;
  while (n_ > keep) out[k++] = Mfn(frames_cached_[--n_]);
  pool_.free_clean(std::span<const Mfn>(out.data(), k));
}

size_t FrameCache::size() const {
  std::lock_guard l(lock_);
  return n_;
}

}  // namespace tide::gmm
