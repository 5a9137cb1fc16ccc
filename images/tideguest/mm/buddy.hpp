// BuddyAllocator: the physical page allocator. Blocks of 2^order pages (order 0..10,
// 4 KiB .. 4 MiB), each naturally aligned in physical memory, so a free order-9 block is
// exactly one 2 MiB host huge page. One zone per RAM range of the memory map; per zone a
// state array (one PageInfo per page) and, per order, the free-list links of the blocks
// of that order (indexed by block number). The links live outside the pages themselves,
// so a free page's contents are never needed: a hypervisor may discard them (free page
// reporting, ballooning).
// The state array is filled in lazily, one 4 KiB page of it (2048 PageInfos, 8 MiB of RAM)
// at a time: a state page whose RAM is entirely free at boot is left untouched and its two
// max-order blocks go straight onto the free list; it is written on first access. On PVM
// each first touch of a page costs a shadow page fault, so this keeps boot time flat in
// the RAM size. Invariants (check_invariants): a free or allocated block starts with its
// head page and all its other pages are tails; every free block is on the list of its
// order exactly once; two free buddies of the same order never coexist below kMaxOrder;
// only free heads carry the `reported` flag.
// Free page reporting (like Linux's mm/page_reporting.c): a free block handed to the host
// is isolated, then put back with free_reported(), which marks it reported and queues it
// at the tail of its list, so allocations prefer memory the host still backs; the flag
// goes as soon as the block leaves its list (allocated, split or merged). large_free_count()
// counts the frees that produced a block of kReportingNotifyOrder or more, so a reporting
// driver can tell when to schedule a pass.
// Reclaimers give pages back when an allocation finds too little free memory: first the
// shrinkers of caches (the page cache), then, as a last resort, deflate-on-OOM (the
// balloon), as Linux reclaims page cache before its OOM notifiers run.
// Boot CPU only, not reentrant (do not call from interrupt handlers).
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
  uint8_t order : 4;     // for kFree and kAllocated heads
  uint8_t reported : 1;  // kFree heads only: handed to the host since it became free
};
static_assert(sizeof(PageInfo) == 2);

inline constexpr PageInfo make_page_info(PageState state, unsigned order) {
  PageInfo info{};
  info.state = state;
  info.order = static_cast<uint8_t>(order & 0xf);
  return info;
}

// Frees that leave a block of this order or larger count in large_free_count() (2 MiB:
// Linux's page_reporting_order, pageblock_order on x86).
inline constexpr unsigned kReportingNotifyOrder = 9;

// How far an allocation that finds too little free memory may go before it fails. The
// stages are asked in this order; each includes the ones before it.
enum class ReclaimStage : uint8_t {
  kNone,    // fail at once
  kShrink,  // drop cache pages (their contents can be recreated or are expendable)
  kOom,     // then the last resort: deflate-on-OOM takes pages back from the balloon
};

// Gives pages back to the allocator when it runs short. reclaim() frees one batch and
// returns its page count (0: nothing left to give); reclaimable() how many it could free.
// A kShrink reclaimer serves allocations of every order, a kOom one order 0 only (the
// balloon gives back scattered single pages).
struct Reclaimer {
  uint64_t (*reclaim)(void* context);
  uint64_t (*reclaimable)(void* context);
  void* context;
  ReclaimStage stage;
};

class BuddyAllocator {
 public:
  static constexpr size_t kMaxZones = 16;

  // Creates the zones and their metadata (taken from `map` with early_alloc above
  // `metadata_floor`), then frees every usable page. Touches only the metadata of RAM
  // next to reservations and the max-order links; the rest is written as blocks are used.
  // False when the metadata does not fit.
  bool init(PhysMap& map, uint64_t metadata_floor);

  // Physical address of a 2^order-page block (contents undefined), 0 when none is free.
  // A request that finds no block while fewer than 2^order pages are free at all (memory
  // short, not merely fragmented) asks the reclaimers up to stage `reclaim`, in stage
  // order, retrying after each batch they free.
  uint64_t alloc_pages(unsigned order, ReclaimStage reclaim = ReclaimStage::kOom);
  // Allocates the single page at `address` (order 0), splitting the free block that
  // holds it. False if that page is not free.
  bool alloc_page_at(uint64_t address);
  // Returns a block from alloc_pages (same order). A mismatched free is a kernel bug:
  // it is reported and ends the VM.
  void free_pages(uint64_t address, unsigned order);
  // Takes a specific free block off its free list, as if allocated (for reporting or
  // ballooning a block found by for_each_free_block). False if it is not a free block of
  // exactly that order.
  bool isolate_free_block(uint64_t address, unsigned order);
  // Returns an isolated block after the host was told about it: like free_pages, but
  // the block is marked reported and queued at the tail of its list (unless it merged
  // with a free buddy), and large_free_count() does not move.
  void free_reported(uint64_t address, unsigned order);
  // Whether the free block at `address` (its head) carries the reported flag.
  bool is_reported(uint64_t address) const;
  uint64_t large_free_count() const { return large_frees_; }

  static constexpr size_t kMaxReclaimers = 4;
  // Installs a reclaimer (it must outlive the allocator); asked after those of earlier
  // stages and after those of its stage added before it. False when the table is full.
  bool add_reclaimer(const Reclaimer* reclaimer);
  // Pages the reclaimers up to stage `up_to` could give back.
  uint64_t reclaimable_page_count(ReclaimStage up_to = ReclaimStage::kOom) const;

  uint64_t free_page_count() const { return free_pages_; }
  uint64_t managed_page_count() const { return managed_pages_; }
  uint64_t free_block_count(unsigned order) const { return free_blocks_[order]; }
  // Calls fn(address, order) for each free block of order >= min_order, largest orders
  // first. fn must not allocate or free.
  template <typename Fn>
  void for_each_free_block(unsigned min_order, Fn&& fn) const;
  // Like for_each_free_block, each list from head to tail (reported blocks come last, so
  // a walk for unreported blocks can move on at the first reported one), as
  // fn(address, order, reported) returning what to do next.
  enum class Visit { kContinue, kNextOrder, kStop };
  template <typename Fn>
  void visit_free_blocks(unsigned min_order, Fn&& fn) const;
  // Walks the blocks overlapping [first_pfn, first_pfn + count), in address order:
  // fn(head_pfn, order, state, overlap_pages) per block (a reserved page is an order-0
  // block). False (fn possibly called for a prefix) when the range is not wholly inside
  // one zone. fn must not allocate or free.
  template <typename Fn>
  bool for_each_block_in(uint64_t first_pfn, uint64_t count, Fn&& fn) const;

  // Walks all metadata; false with a description of the first inconsistency.
  bool check_invariants(const char** problem) const;

 private:
  static constexpr uint32_t kNoPfn = 0xffffffff;
  struct FreeLink {
    uint32_t prev;
    uint32_t next;
  };
  // PageInfos per 4 KiB page of the state array; a multiple of the max-order block.
  static constexpr uint64_t kStatePagePfns = kPageSize / sizeof(PageInfo);
  static_assert(kStatePagePfns % (1u << kMaxOrder) == 0);
  struct Zone {
    uint64_t start_pfn;
    uint64_t end_pfn;
    uint64_t base_pfn;        // start_pfn aligned down to kStatePagePfns: pages[0]
    PageInfo* pages;          // indexed by pfn - base_pfn
    uint8_t* state_pages;     // a StatePage per kStatePagePfns PageInfos
    FreeLink* links[kOrderCount];
  };
  // What a page of the state array holds.
  enum StatePage : uint8_t {
    kImplicitReserved = 0,  // not written; every page reads as kReserved
    kImplicitFree = 1,      // not written; every page is in a free max-order block
    kWritten = 2,           // the PageInfos are valid
  };

  Zone* zone_of(uint64_t pfn);
  const Zone* zone_of(uint64_t pfn) const;
  // The state of `pfn`, writing its state page first if it is still implicit.
  static PageInfo& info(Zone& z, uint64_t pfn);
  // The state of `pfn` without writing anything (for checks).
  static PageInfo peek(const Zone& z, uint64_t pfn);
  // Writes out an implicit state page.
  static void write_state_page(Zone& z, uint64_t state_page);
  // The block holding `pfn` (its head and state; a reserved page is its own block).
  // False if the metadata around it is inconsistent.
  static bool containing_block(const Zone& z, uint64_t pfn, uint64_t* head, PageInfo* state);
  static FreeLink& link(const Zone& z, uint64_t pfn, unsigned order) {
    return z.links[order][(pfn >> order) - (z.start_pfn >> order)];
  }
  // Puts a block on its list, at the head (tail: for reported blocks).
  void push_free(Zone& z, uint64_t pfn, unsigned order, bool at_tail = false, bool reported = false);
  void remove_free(Zone& z, uint64_t pfn, unsigned order);
  // Marks [pfn, pfn + 2^order) as one free block and merges it with free buddies.
  // `reported`: a put-back after reporting (see free_reported).
  void insert_free(Zone& z, uint64_t pfn, unsigned order, bool reported = false);
  // Takes a block of exactly `order` (splitting a larger one), 0 when none is free.
  uint64_t take_block(unsigned order);
  // Puts a free max-order block whose state page is still implicit on its list.
  void push_implicit(Zone& z, uint64_t pfn);

  Zone zones_[kMaxZones] = {};
  size_t zone_count_ = 0;
  uint32_t free_head_[kOrderCount] = {};
  uint32_t free_tail_[kOrderCount] = {};
  uint64_t free_blocks_[kOrderCount] = {};
  uint64_t free_pages_ = 0;
  uint64_t managed_pages_ = 0;
  uint64_t large_frees_ = 0;
  const Reclaimer* reclaimers_[kMaxReclaimers] = {};  // sorted by stage
  size_t reclaimer_count_ = 0;
  bool reclaiming_ = false;  // a reclaimer's own allocations do not reclaim
};

BuddyAllocator& page_allocator();
inline uint64_t alloc_pages(unsigned order, ReclaimStage reclaim = ReclaimStage::kOom) {
  return page_allocator().alloc_pages(order, reclaim);
}
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

template <typename Fn>
void BuddyAllocator::visit_free_blocks(unsigned min_order, Fn&& fn) const {
  for (unsigned order = kMaxOrder + 1; order-- > min_order;) {
    for (uint32_t pfn = free_head_[order]; pfn != kNoPfn;) {
      const Zone* z = zone_of(pfn);
      uint32_t next = link(*z, pfn, order).next;
      const Visit what = fn(uint64_t{pfn} << kPageShift, order, peek(*z, pfn).reported != 0);
      if (what == Visit::kStop) return;
      if (what == Visit::kNextOrder) break;
      pfn = next;
    }
  }
}

template <typename Fn>
bool BuddyAllocator::for_each_block_in(uint64_t first_pfn, uint64_t count, Fn&& fn) const {
  const Zone* z = zone_of(first_pfn);
  if (z == nullptr || first_pfn + count > z->end_pfn) return false;
  const uint64_t end = first_pfn + count;
  for (uint64_t pfn = first_pfn; pfn < end;) {
    uint64_t head = 0;
    PageInfo state{};
    if (!containing_block(*z, pfn, &head, &state)) return false;
    const unsigned order = state.state == PageState::kReserved ? 0 : state.order;
    const uint64_t block_end = head + (1ull << order);
    const uint64_t stop = block_end < end ? block_end : end;
    fn(head, order, state.state, stop - pfn);
    pfn = stop;
  }
  return true;
}

}  // namespace tg::mm
