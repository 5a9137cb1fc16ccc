// FrameCache: a guest's small stack of clean free frames, so order-0 faults rarely take the
// pool lock (like the kernel's per-CPU page lists). Refills and drains move kBatch frames at
// a time. Cached frames are allocated in the buddy's view, owned by no guest, flagged
// kFrameCached. Thread-safe (its own spin lock); lock order: extent -> cache -> pool.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "guestmm/base/spin_lock.hpp"
#include "guestmm/pool_allocator.hpp"

namespace tide::gmm {

class FrameCache {
 public:
  static constexpr size_t kCapacity = 64;
  static constexpr size_t kBatch = 32;

  explicit FrameCache(PoolAllocator& pool, FrameTable& frames) : pool_(pool), frames_(frames) {}
  FrameCache(const FrameCache&) = delete;
  FrameCache& operator=(const FrameCache&) = delete;
  ~FrameCache() { drain(); }

  // A clean frame, refilling from the pool when empty; nullopt if the pool has none.
  [[nodiscard]] std::optional<Mfn> alloc();
  // Takes back a clean frame, draining a batch to the pool when full.
  void free(Mfn mfn);
  // Takes `mfn` itself out of the cache if it is there (a fault reusing the frame its
  // window already views, released into this cache); false if it is not cached here.
  [[nodiscard]] bool take(Mfn mfn);
  // Returns every cached frame to the pool.
  void drain();

  [[nodiscard]] size_t size() const;
  // For audits: calls fn(mfn) for every cached frame under the cache lock.
  template <class Fn>
  void for_each_locked(Fn&& fn) const {
    std::lock_guard l(lock_);
    for (size_t i = 0; i < n_; ++i) fn(Mfn(frames_cached_[i]));
  }

 private:
  void drain_locked(size_t keep);

  PoolAllocator& pool_;
  FrameTable& frames_;
  mutable SpinLock lock_;
  std::array<uint32_t, kCapacity> frames_cached_{};
  size_t n_ = 0;
};

}  // namespace tide::gmm
