// PoolAllocator: the pool's frames for every guest — the buddy allocator of clean
// (punched) frames plus the hot list of freed frames kept resident for fast reuse (zeroed
// on reuse: a frame never reaches a guest with another guest's bytes in it). One lock
// serializes both; callers batch to keep it cold. Lock order: guest extent lock -> guest
// cache lock -> pool lock.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "guestmm/base/spin_lock.hpp"
#include "guestmm/buddy.hpp"
#include "guestmm/frame_table.hpp"

namespace tide::gmm {

class PoolAllocator {
 public:
  // `hot_max`: at most this many freed frames stay resident on the hot list (0: none).
  PoolAllocator(FrameTable& frames, uint64_t hot_max) : frames_(frames), buddy_(frames), hot_max_(hot_max) {}

  // A clean block of 2^order frames (reads as zeroes, holds no host memory).
  [[nodiscard]] std::optional<Mfn> alloc_block(unsigned order);
  // Exactly [mfn, mfn + 2^order) if it is all free in the buddy allocator.
  [[nodiscard]] bool alloc_exact(Mfn mfn, unsigned order);
  // Up to out.size() clean order-0 frames; returns how many.
  size_t alloc_frames(std::span<Mfn> out);
  // A hot frame (resident, old contents: the caller zeroes it), or nullopt.
  [[nodiscard]] std::optional<Mfn> take_hot();

  // Returns clean (already punched) frames to the buddy allocator.
  void free_clean(std::span<const Mfn> frames);
  void free_clean_block(Mfn mfn, unsigned order);
  // Keeps up to hot_max dirty frames resident; returns how many of `frames` it took (a
  // prefix). `force` takes them all (frames that could not be punched).
  size_t offer_hot(std::span<const Mfn> frames, bool force = false);
  // How many frames offer_hot() would take now without `force` (it may take fewer later:
  // another thread can fill the list meanwhile).
  [[nodiscard]] uint64_t hot_room() const;

  [[nodiscard]] uint64_t free_frames() const;
  [[nodiscard]] uint64_t hot_frames() const;
  [[nodiscard]] uint64_t total_frames() const { return frames_.size(); }

  // For audits: hold the lock while inspecting.
  [[nodiscard]] std::unique_lock<SpinLock> lock() const { return std::unique_lock(lock_); }
  // Requires lock(). Checks the buddy allocator and the hot list.
  [[nodiscard]] Status check_invariants_locked() const;
  [[nodiscard]] const std::vector<uint32_t>& hot_list_locked() const { return hot_; }
  [[nodiscard]] uint64_t free_frames_locked() const { return buddy_.free_frames(); }

 private:
  FrameTable& frames_;
  mutable SpinLock lock_;
  BuddyAllocator buddy_;
  std::vector<uint32_t> hot_;
  uint64_t hot_max_;
};

}  // namespace tide::gmm
