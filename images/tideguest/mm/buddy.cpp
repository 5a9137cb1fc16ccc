// Buddy page allocator (see buddy.hpp).
#include "mm/buddy.hpp"

#include "dev/debug_exit.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"

namespace tg::mm {
namespace {

BuddyAllocator g_page_allocator;

uint64_t pages_for_bytes(uint64_t bytes) { return (bytes + kPageSize - 1) / kPageSize; }

[[noreturn]] void allocator_bug(const char* what, uint64_t address, unsigned order) {
  kprintf("tideguest: page allocator: %s (address 0x%lx order %u)\n", what, address, order);
  dev::debug_exit(dev::kExitCrash);
}

}  // namespace

BuddyAllocator& page_allocator() { return g_page_allocator; }

unsigned order_for_bytes(uint64_t bytes) {
  unsigned order = 0;
  while (order < 63 && (kPageSize << order) < bytes) ++order;
  return order;
}

bool BuddyAllocator::init(PhysMap& map, uint64_t metadata_floor) {
  for (auto& head : free_head_) head = kNoPfn;
  // Zones first (all metadata is reserved before any page is freed).
  for (size_t i = 0; i < map.ram_count() && zone_count_ < kMaxZones; ++i) {
    Zone& z = zones_[zone_count_];
    z.start_pfn = map.ram(i).base >> kPageShift;
    z.end_pfn = map.ram(i).end >> kPageShift;
    if (z.end_pfn <= z.start_pfn) continue;
    uint64_t nr = z.end_pfn - z.start_pfn;
    uint64_t state_pages = pages_for_bytes(nr * sizeof(PageInfo));
    uint64_t state = map.early_alloc(metadata_floor, state_pages);
    if (state == 0) return false;
    z.pages = reinterpret_cast<PageInfo*>(state);
    memset(z.pages, 0, nr * sizeof(PageInfo));  // all kReserved
    for (unsigned order = 0; order < kOrderCount; ++order) {
      uint64_t blocks = ((z.end_pfn - 1) >> order) - (z.start_pfn >> order) + 1;
      uint64_t links = map.early_alloc(metadata_floor, pages_for_bytes(blocks * sizeof(FreeLink)));
      if (links == 0) return false;
      z.links[order] = reinterpret_cast<FreeLink*>(links);
    }
    ++zone_count_;
  }
  map.for_each_usable([&](uint64_t base, uint64_t end) {
    uint64_t pfn = base >> kPageShift;
    const uint64_t end_pfn = end >> kPageShift;
    Zone* z = zone_of(pfn);
    if (z == nullptr) return;
    managed_pages_ += end_pfn - pfn;
    while (pfn < end_pfn) {
      unsigned order = 0;
      while (order < kMaxOrder && (pfn & ((2ull << order) - 1)) == 0 &&
             pfn + (2ull << order) <= end_pfn)
        ++order;
      for (uint64_t p = pfn + 1; p < pfn + (1ull << order); ++p) {
        z->pages[p - z->start_pfn].state = PageState::kTail;
      }
      insert_free(*z, pfn, order);
      pfn += 1ull << order;
    }
  });
  return true;
}

BuddyAllocator::Zone* BuddyAllocator::zone_of(uint64_t pfn) {
  for (size_t i = 0; i < zone_count_; ++i) {
    if (pfn >= zones_[i].start_pfn && pfn < zones_[i].end_pfn) return &zones_[i];
  }
  return nullptr;
}

const BuddyAllocator::Zone* BuddyAllocator::zone_of(uint64_t pfn) const {
  return const_cast<BuddyAllocator*>(this)->zone_of(pfn);
}

void BuddyAllocator::push_free(Zone& z, uint64_t pfn, unsigned order) {
  FreeLink& l = link(z, pfn, order);
  l.prev = kNoPfn;
  l.next = free_head_[order];
  if (l.next != kNoPfn) link(*zone_of(l.next), l.next, order).prev = static_cast<uint32_t>(pfn);
  free_head_[order] = static_cast<uint32_t>(pfn);
  z.pages[pfn - z.start_pfn] = PageInfo{PageState::kFree, static_cast<uint8_t>(order)};
  ++free_blocks_[order];
  free_pages_ += 1ull << order;
}

void BuddyAllocator::remove_free(Zone& z, uint64_t pfn, unsigned order) {
  FreeLink& l = link(z, pfn, order);
  if (l.prev != kNoPfn) link(*zone_of(l.prev), l.prev, order).next = l.next;
  else free_head_[order] = l.next;
  if (l.next != kNoPfn) link(*zone_of(l.next), l.next, order).prev = l.prev;
  z.pages[pfn - z.start_pfn].state = PageState::kTail;
  --free_blocks_[order];
  free_pages_ -= 1ull << order;
}

void BuddyAllocator::insert_free(Zone& z, uint64_t pfn, unsigned order) {
  z.pages[pfn - z.start_pfn].state = PageState::kTail;
  while (order < kMaxOrder) {
    uint64_t buddy = pfn ^ (1ull << order);
    if (buddy < z.start_pfn || buddy + (1ull << order) > z.end_pfn) break;
    const PageInfo& b = z.pages[buddy - z.start_pfn];
    if (b.state != PageState::kFree || b.order != order) break;
    remove_free(z, buddy, order);
    if (buddy < pfn) pfn = buddy;
    ++order;
  }
  push_free(z, pfn, order);
}

uint64_t BuddyAllocator::alloc_pages(unsigned order) {
  if (order > kMaxOrder) return 0;
  unsigned o = order;
  while (o <= kMaxOrder && free_head_[o] == kNoPfn) ++o;
  if (o > kMaxOrder) return 0;
  uint64_t pfn = free_head_[o];
  Zone& z = *zone_of(pfn);
  remove_free(z, pfn, o);
  while (o > order) {
    --o;
    push_free(z, pfn + (1ull << o), o);
  }
  z.pages[pfn - z.start_pfn] = PageInfo{PageState::kAllocated, static_cast<uint8_t>(order)};
  return pfn << kPageShift;
}

void BuddyAllocator::free_pages(uint64_t address, unsigned order) {
  uint64_t pfn = address >> kPageShift;
  Zone* z = zone_of(pfn);
  if (z == nullptr || (address & (kPageSize - 1)) != 0) allocator_bug("free of a page it does not manage", address, order);
  const PageInfo& info = z->pages[pfn - z->start_pfn];
  if (info.state != PageState::kAllocated) allocator_bug("free of a block that is not allocated", address, order);
  if (info.order != order) allocator_bug("free with the wrong order", address, order);
  insert_free(*z, pfn, order);
}

bool BuddyAllocator::isolate_free_block(uint64_t address, unsigned order) {
  uint64_t pfn = address >> kPageShift;
  Zone* z = zone_of(pfn);
  if (z == nullptr || order > kMaxOrder) return false;
  const PageInfo& info = z->pages[pfn - z->start_pfn];
  if (info.state != PageState::kFree || info.order != order) return false;
  remove_free(*z, pfn, order);
  z->pages[pfn - z->start_pfn] = PageInfo{PageState::kAllocated, static_cast<uint8_t>(order)};
  return true;
}

bool BuddyAllocator::check_invariants(const char** problem) const {
  uint64_t free_pages = 0;
  uint64_t free_blocks[kOrderCount] = {};
  for (size_t i = 0; i < zone_count_; ++i) {
    const Zone& z = zones_[i];
    for (uint64_t pfn = z.start_pfn; pfn < z.end_pfn;) {
      const PageInfo& info = z.pages[pfn - z.start_pfn];
      if (info.state == PageState::kReserved) {
        ++pfn;
        continue;
      }
      if (info.state == PageState::kTail) {
        *problem = "tail page outside any block";
        return false;
      }
      const uint64_t size = 1ull << info.order;
      if (info.order > kMaxOrder || (pfn & (size - 1)) != 0 || pfn + size > z.end_pfn) {
        *problem = "block misaligned, too large or past its zone";
        return false;
      }
      for (uint64_t p = pfn + 1; p < pfn + size; ++p) {
        if (z.pages[p - z.start_pfn].state != PageState::kTail) {
          *problem = "block page that is not a tail";
          return false;
        }
      }
      if (info.state == PageState::kFree) {
        free_pages += size;
        ++free_blocks[info.order];
        uint64_t buddy = pfn ^ size;
        if (info.order < kMaxOrder && buddy >= z.start_pfn && buddy + size <= z.end_pfn) {
          const PageInfo& b = z.pages[buddy - z.start_pfn];
          if (b.state == PageState::kFree && b.order == info.order) {
            *problem = "two free buddies left unmerged";
            return false;
          }
        }
      }
      pfn += size;
    }
  }
  if (free_pages != free_pages_) {
    *problem = "free page counter differs from the state arrays";
    return false;
  }
  for (unsigned order = 0; order < kOrderCount; ++order) {
    uint64_t listed = 0;
    uint32_t prev = kNoPfn;
    for (uint32_t pfn = free_head_[order]; pfn != kNoPfn; ++listed) {
      const Zone* z = zone_of(pfn);
      if (z == nullptr || listed > free_blocks_[order]) {
        *problem = "free list corrupt (foreign page or cycle)";
        return false;
      }
      const PageInfo& info = z->pages[pfn - z->start_pfn];
      if (info.state != PageState::kFree || info.order != order) {
        *problem = "listed block is not free at that order";
        return false;
      }
      const FreeLink& l = link(*z, pfn, order);
      if (l.prev != prev) {
        *problem = "free list back link broken";
        return false;
      }
      prev = pfn;
      pfn = l.next;
    }
    if (listed != free_blocks_[order] || listed != free_blocks[order]) {
      *problem = "free list length differs from the block count";
      return false;
    }
  }
  return true;
}

}  // namespace tg::mm
