// PageCache: memory kept only because it may be useful again, which the page allocator
// may take back whenever it runs short, like Linux's page cache. It holds blocks taken
// from the allocator (largest first) in the order they were added and installs a
// kShrink reclaimer: an allocation that finds too little free memory drops cache blocks,
// oldest first, before the balloon's deflate-on-OOM is asked. What the pages hold is the
// owner's business (kernel/memcache); the cache keeps the blocks, their age order and the
// counters the balloon's statistics report. One cache, boot CPU only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mm/buddy.hpp"
#include "mm/word_array.hpp"

namespace tg::mm {

class PageCache {
 public:
  // Allocates `page_count` pages in the largest blocks available and adds them as the
  // newest blocks; [*first, end()) are the new ones afterwards. The allocation may drop
  // older cache blocks (never the ones it is adding) and, like any allocation, deflate
  // the balloon on OOM. False (nothing added, *error set) when the memory cannot be found.
  bool grow(uint64_t page_count, size_t* first, const char** error);
  // Frees every cached block and the block list; returns the pages freed.
  uint64_t drop_all();

  // The cached blocks are entries [begin(), end()), oldest first.
  size_t begin() const { return first_; }
  size_t end() const { return blocks_.size(); }
  uint64_t block_address(size_t i) const { return blocks_[i] & ~kOrderMask; }
  unsigned block_order(size_t i) const { return static_cast<unsigned>(blocks_[i] & kOrderMask); }

  // Pages cached now.
  uint64_t page_count() const { return pages_; }
  // Pages dropped by reclaim since boot (not counting drop_all).
  uint64_t dropped_count() const { return dropped_; }
  // Bumped whenever an empty cache gets pages, so an owner can tell this cache's contents
  // from what an earlier one left in the same frames.
  uint64_t generation() const { return generation_; }

 private:
  static constexpr uint64_t kOrderMask = kPageSize - 1;  // a block's order in its low bits

  // The reclaimer: drops the oldest block that may be dropped.
  static uint64_t reclaim(void* context);
  static uint64_t reclaimable(void* context);
  uint64_t drop_oldest();
  // Makes room for `more` entries up front, so the list does not grow (and allocate)
  // while blocks are being added; drops the entries already reclaimed first.
  bool reserve(uint64_t more);

  // address | order per block. Reclaim only reads entries and advances first_, so it is
  // safe even while an allocation for the list itself is under way.
  WordArray blocks_;
  size_t first_ = 0;         // entries before it were dropped
  size_t droppable_end_ = 0;  // entries from here on are being added by grow(): kept
  uint64_t pages_ = 0;
  uint64_t adding_pages_ = 0;  // pages of entries at droppable_end_ and beyond
  uint64_t dropped_ = 0;
  uint64_t generation_ = 0;
  bool registered_ = false;
  Reclaimer reclaimer_{};
};

PageCache& page_cache();

}  // namespace tg::mm
