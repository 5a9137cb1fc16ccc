// FrameTable: compact metadata for every pool frame (ARCHITECTURE.md §3), 20 bytes each.
// Glossary:
//   owner/gfn   the guest (id >= 1) and GFN whose P2M maps this frame as its primary
//               mapping; owner 0 = no guest (free, or held in a cache)
//   map_count   number of (guest, GFN) mappings: the primary one plus rmap extras
//   prev/next   list links: the buddy free list of a free block head; later the LRU lists
//   order       order of a free block (at its head) or of an allocated block (at its head)
// The table lives in lazily-touched anonymous memory: a zero entry is a free, non-head
// frame, so untouched parts of a large pool cost no host memory.
// Locking: entries of free frames change under the pool allocator's lock; entries of frames
// mapped by a guest change under that guest's extent lock for the GFN.
#pragma once

#include <cstdint>

#include "guestmm/base/error.hpp"
#include "guestmm/host/mapping.hpp"
#include "guestmm/types.hpp"

namespace tide::gmm {

inline constexpr uint32_t kNilFrame = 0xffffffff;

enum FrameFlag : uint16_t {
  kFrameAllocated = 1 << 0,  // handed out by the allocator (to a guest, cache or hot list)
  kFrameHead = 1 << 1,       // first frame of a free block (order valid)
  kFrameResident = 1 << 2,   // holds host memory now (mapped by a guest, or on the hot list)
  kFrameReferenced = 1 << 3,
  kFrameActive = 1 << 4,
  kFrameBalloon = 1 << 5,
  kFrameGrant = 1 << 6,
  kFramePoisoned = 1 << 7,
  kFrameLocked = 1 << 8,
  kFrameHot = 1 << 9,  // free but kept resident (not punched) for fast reuse
  kFrameCached = 1 << 10,  // in a per-guest cache of free frames
  kFrameScrub = 1 << 11,   // taken back from a guest, waiting for the scrubber
};

struct Frame {
  uint32_t gfn;
  uint16_t owner;
  uint16_t map_count;
  uint32_t prev;
  uint32_t next;
  uint16_t flags;
  uint8_t order;
  uint8_t reserved;

  [[nodiscard]] bool has(FrameFlag f) const { return (flags & f) != 0; }
};
static_assert(sizeof(Frame) == 20);

class FrameTable {
 public:
  // Errors: the address space cannot be reserved.
  [[nodiscard]] static Result<FrameTable> create(uint64_t nr_frames);

  [[nodiscard]] uint64_t size() const { return nr_frames_; }
  [[nodiscard]] Frame& operator[](Mfn mfn) { return frames_[mfn.value()]; }
  [[nodiscard]] const Frame& operator[](Mfn mfn) const { return frames_[mfn.value()]; }
  [[nodiscard]] Frame& at(uint64_t mfn) { return frames_[mfn]; }
  [[nodiscard]] const Frame& at(uint64_t mfn) const { return frames_[mfn]; }

 private:
  host::Mapping memory_;
  Frame* frames_ = nullptr;
  uint64_t nr_frames_ = 0;
};

}  // namespace tide::gmm
