// BuddyAllocator: free frames of the pool in power-of-two blocks, orders 0..kMaxOrder
// (4 KiB .. 1 GiB), with free lists threaded through the FrameTable (prev/next at block
// heads). Blocks are naturally aligned; freeing merges with the free buddy of the same
// order as far as possible. Starting with the whole pool free touches only the few heads
// of the largest blocks.
// Not thread-safe: PoolAllocator serializes every call under its lock.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "guestmm/base/error.hpp"
#include "guestmm/frame_table.hpp"
#include "guestmm/types.hpp"

namespace tide::gmm {

class BuddyAllocator {
 public:
  static constexpr unsigned kMaxOrder = 18;  // 1 GiB
  static constexpr unsigned kExtentOrder = 9;  // 2 MiB

  // Every frame of `frames` starts free.
  explicit BuddyAllocator(FrameTable& frames);

  // A block of 2^order frames, marked allocated; nullopt if none is free.
  [[nodiscard]] std::optional<Mfn> alloc(unsigned order);
  // Takes exactly [mfn, mfn + 2^order) if all of it is free (mfn aligned to the order).
  [[nodiscard]] bool alloc_exact(Mfn mfn, unsigned order);
  // Returns a block; its frames' metadata is cleared. The block must be allocated.
  void free(Mfn mfn, unsigned order);

  [[nodiscard]] uint64_t free_frames() const { return free_frames_; }
  [[nodiscard]] uint64_t free_blocks(unsigned order) const { return counts_[order]; }
  [[nodiscard]] uint64_t total_frames() const { return frames_.size(); }
  // True if the frame is inside a free block.
  [[nodiscard]] bool is_free(Mfn mfn) const;

  // Lists well-formed, counts right, blocks aligned, disjoint, maximally merged, free
  // frames unowned and unmapped (interiors checked for blocks up to 2 MiB). Cost: O(free
  // blocks + frames in small blocks).
  [[nodiscard]] Status check_invariants() const;

 private:
  void push(uint64_t head, unsigned order);
  void remove(uint64_t head, unsigned order);
  [[nodiscard]] bool is_free_head(uint64_t mfn, unsigned order) const;
  void mark_allocated(uint64_t head, unsigned order);

  FrameTable& frames_;
  std::array<uint32_t, kMaxOrder + 1> heads_;
  std::array<uint64_t, kMaxOrder + 1> counts_{};
  uint32_t nonempty_ = 0;  // bit k: list k is non-empty
  uint64_t free_frames_ = 0;
};

}  // namespace tide::gmm
