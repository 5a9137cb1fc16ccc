// BuddyAllocator: the physical page allocator. Blocks of 2^order pages (order 0..10,
// 4 KiB .. 4 MiB), each naturally aligned in physical memory, so a free order-9 block is
// exactly one 2 MiB host huge page. One zone per RAM range of the memory map; per zone a
// state array (one PageInfo per page) and, per order, the free-list links of the blocks
// of that order (indexed by block number). The links live outside the pages themselves,
// so a free page's contents are never needed: a hypervisor may discard them (free page
// reporting, ballooning). Invariants (check_invariants): a free or allocated block starts
// with its head page and all its other pages are tails; every free block is on the list
// of its order exactly once; two free buddies of the same order never coexist below
// kMaxOrder. Boot CPU only, not reentrant (do not call from interrupt handlers).
#pragma once

#include <cstddef>
#include <cstdint>

#include "mm/phys_map.hpp"

namespace tg::mm {

inline constexpr unsigned kMaxOrder = 10;
inline constexpr unsigned kOrderCount = kMaxOrder + 1;

enum class PageState : uint8_t {
  kReserved = 0,  // not managed (kernel image, loader data, holes in a zone)
  kFree,          // head of a free block; `order` is valid
  kAllocated,     // head of an allocated block; `order` is valid
  kTail,          // any other page of a free or allocated block
};

struct PageInfo {
  PageState state;
  uint8_t order;
};

class BuddyAllocator {
 public:
  static constexpr size_t kMaxZones = 16;

  // Creates the zones and their metadata (taken from `map` with early_alloc above
  // `metadata_floor`), then frees every usable page. Only the state arrays are written
  // (2 bytes per page); link arrays are touched as blocks come and go.
  // False when the metadata does not fit.
  bool init(PhysMap& map, uint64_t metadata_floor);

  // Physical address of a 2^order-page block (contents undefined), 0 when none is free.
  uint64_t alloc_pages(unsigned order);
  // Returns a block from alloc_pages (same order). A mismatched free is a kernel bug:
  // it is reported and ends the VM.
  void free_pages(uint64_t address, unsigned order);
  // Takes a specific free block off its free list, as if allocated (for reporting or
  // ballooning a block found by for_each_free_block). False if it is not a free block of
  // exactly that order.
  bool isolate_free_block(uint64_t address, unsigned order);

  uint64_t free_page_count() const { return free_pages_; }
  uint64_t managed_page_count() const { return managed_pages_; }
  uint64_t free_block_count(unsigned order) const { return free_blocks_[order]; }
  // Calls fn(address, order) for each free block of order >= min_order, largest orders
  // first. fn must not allocate or free.
  template <typename Fn>
  void for_each_free_block(unsigned min_order, Fn&& fn) const;

  // Walks all metadata; false with a description of the first inconsistency.
  bool check_invariants(const char** problem) const;

 private:
  static constexpr uint32_t kNoPfn = 0xffffffff;
  struct FreeLink {
    uint32_t prev;
    uint32_t next;
  };
  struct Zone {
    uint64_t start_pfn;
    uint64_t end_pfn;
    PageInfo* pages;
    FreeLink* links[kOrderCount];
  };

  Zone* zone_of(uint64_t pfn);
  const Zone* zone_of(uint64_t pfn) const;
  static FreeLink& link(const Zone& z, uint64_t pfn, unsigned order) {
    return z.links[order][(pfn >> order) - (z.start_pfn >> order)];
  }
  void push_free(Zone& z, uint64_t pfn, unsigned order);
  void remove_free(Zone& z, uint64_t pfn, unsigned order);
  // Marks [pfn, pfn + 2^order) as one free block and merges it with free buddies.
  void insert_free(Zone& z, uint64_t pfn, unsigned order);

  Zone zones_[kMaxZones] = {};
  size_t zone_count_ = 0;
  uint32_t free_head_[kOrderCount] = {};
  uint64_t free_blocks_[kOrderCount] = {};
  uint64_t free_pages_ = 0;
  uint64_t managed_pages_ = 0;
};

BuddyAllocator& page_allocator();
inline uint64_t alloc_pages(unsigned order) { return page_allocator().alloc_pages(order); }
inline void free_pages(uint64_t address, unsigned order) {
  page_allocator().free_pages(address, order);
}
// The smallest order whose block holds `bytes`.
unsigned order_for_bytes(uint64_t bytes);

template <typename Fn>
void BuddyAllocator::for_each_free_block(unsigned min_order, Fn&& fn) const {
  for (unsigned order = kMaxOrder + 1; order-- > min_order;) {
    for (uint32_t pfn = free_head_[order]; pfn != kNoPfn;) {
      const Zone* z = zone_of(pfn);
      uint32_t next = link(*z, pfn, order).next;
      fn(uint64_t{pfn} << kPageShift, order);
      pfn = next;
    }
  }
}

}  // namespace tg::mm
