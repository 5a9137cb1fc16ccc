// Buddy page allocator (see buddy.hpp).
#include "mm/buddy.hpp"

#include "dev/debug_exit.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"

namespace tg::mm {
namespace {

BuddyAllocator g_page_allocator;

constexpr uint64_t kMaxBlockPfns = 1ull << kMaxOrder;

uint64_t pages_for_bytes(uint64_t bytes) { return (bytes + kPageSize - 1) / kPageSize; }

[[noreturn]] void allocator_bug(const char* what, uint64_t address, unsigned order) {
  kprintf("tideguest: page allocator: %s (address 0x%lx order %u)\n", what, address, order);
  dev::debug_exit(dev::kExitCrash);
}

// What a page of an implicitly free state page holds: free max-order blocks only.
PageInfo implicit_free_state(uint64_t pfn) {
  if ((pfn & (kMaxBlockPfns - 1)) == 0) return make_page_info(PageState::kFree, kMaxOrder);
  return make_page_info(PageState::kTail, 0);
}

}  // namespace

BuddyAllocator& page_allocator() { return g_page_allocator; }

unsigned order_for_bytes(uint64_t bytes) {
  unsigned order = 0;
  while (order < 63 && (kPageSize << order) < bytes) ++order;
  return order;
}

void BuddyAllocator::write_state_page(Zone& z, uint64_t state_page) {
  PageInfo* first = &z.pages[state_page * kStatePagePfns];
  if (z.state_pages[state_page] == kImplicitFree) {
    const uint64_t first_pfn = z.base_pfn + state_page * kStatePagePfns;
    for (uint64_t i = 0; i < kStatePagePfns; ++i) first[i] = implicit_free_state(first_pfn + i);
  } else {
    memset(first, 0, kStatePagePfns * sizeof(PageInfo));  // kReserved
  }
  z.state_pages[state_page] = kWritten;
}

PageInfo& BuddyAllocator::info(Zone& z, uint64_t pfn) {
  const uint64_t index = pfn - z.base_pfn;
  const uint64_t state_page = index / kStatePagePfns;
  if (z.state_pages[state_page] != kWritten) write_state_page(z, state_page);
  return z.pages[index];
}

PageInfo BuddyAllocator::peek(const Zone& z, uint64_t pfn) {
  const uint64_t index = pfn - z.base_pfn;
  switch (z.state_pages[index / kStatePagePfns]) {
    case kImplicitReserved: return make_page_info(PageState::kReserved, 0);
    case kImplicitFree: return implicit_free_state(pfn);
    default: return z.pages[index];
  }
}

bool BuddyAllocator::init(PhysMap& map, uint64_t metadata_floor) {
  for (auto& head : free_head_) head = kNoPfn;
  for (auto& tail : free_tail_) tail = kNoPfn;
  // Zones and all their metadata first: every metadata page is reserved before any page
  // is freed.
  for (size_t i = 0; i < map.ram_count() && zone_count_ < kMaxZones; ++i) {
    Zone& z = zones_[zone_count_];
    z.start_pfn = map.ram(i).base >> kPageShift;
    z.end_pfn = map.ram(i).end >> kPageShift;
    if (z.end_pfn <= z.start_pfn) continue;
    z.base_pfn = z.start_pfn & ~(kStatePagePfns - 1);
    const uint64_t state_pages = (z.end_pfn - z.base_pfn + kStatePagePfns - 1) / kStatePagePfns;
    uint64_t pages = map.early_alloc(metadata_floor, state_pages);
    uint64_t status = map.early_alloc(metadata_floor, pages_for_bytes(state_pages));
    if (pages == 0 || status == 0) return false;
    z.pages = reinterpret_cast<PageInfo*>(pages);
    z.state_pages = reinterpret_cast<uint8_t*>(status);
    memset(z.state_pages, kImplicitReserved, state_pages);
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
      const uint64_t state_page = (pfn - z->base_pfn) / kStatePagePfns;
      const uint64_t page_first = z->base_pfn + state_page * kStatePagePfns;
      const uint64_t page_end = page_first + kStatePagePfns;
      if (pfn == page_first && page_end <= end_pfn && z->state_pages[state_page] == kImplicitReserved) {
        // Entirely free: leave its PageInfos implicit.
        z->state_pages[state_page] = kImplicitFree;
        for (uint64_t head = page_first; head < page_end; head += kMaxBlockPfns) push_implicit(*z, head);
        pfn = page_end;
        continue;
      }
      // Partly usable: info() writes it out as reserved, then the usable part is freed.
      const uint64_t stop = end_pfn < page_end ? end_pfn : page_end;
      while (pfn < stop) {
        unsigned order = 0;
        while (order < kMaxOrder && (pfn & ((2ull << order) - 1)) == 0 && pfn + (2ull << order) <= stop)
          ++order;
        for (uint64_t p = pfn + 1; p < pfn + (1ull << order); ++p) info(*z, p).state = PageState::kTail;
        insert_free(*z, pfn, order);
        pfn += 1ull << order;
      }
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

void BuddyAllocator::push_implicit(Zone& z, uint64_t pfn) {
  FreeLink& l = link(z, pfn, kMaxOrder);
  l.prev = kNoPfn;
  l.next = free_head_[kMaxOrder];
  if (l.next != kNoPfn) link(*zone_of(l.next), l.next, kMaxOrder).prev = static_cast<uint32_t>(pfn);
  else free_tail_[kMaxOrder] = static_cast<uint32_t>(pfn);
  free_head_[kMaxOrder] = static_cast<uint32_t>(pfn);
  ++free_blocks_[kMaxOrder];
  free_pages_ += kMaxBlockPfns;
}

void BuddyAllocator::push_free(Zone& z, uint64_t pfn, unsigned order, bool at_tail, bool reported) {
  FreeLink& l = link(z, pfn, order);
  const auto p = static_cast<uint32_t>(pfn);
  if (at_tail) {
    l.next = kNoPfn;
    l.prev = free_tail_[order];
    if (l.prev != kNoPfn) link(*zone_of(l.prev), l.prev, order).next = p;
    else free_head_[order] = p;
    free_tail_[order] = p;
  } else {
    l.prev = kNoPfn;
    l.next = free_head_[order];
    if (l.next != kNoPfn) link(*zone_of(l.next), l.next, order).prev = p;
    else free_tail_[order] = p;
    free_head_[order] = p;
  }
  PageInfo& head = info(z, pfn);
  head = make_page_info(PageState::kFree, order);
  head.reported = reported ? 1 : 0;
  ++free_blocks_[order];
  free_pages_ += 1ull << order;
}

void BuddyAllocator::remove_free(Zone& z, uint64_t pfn, unsigned order) {
  FreeLink& l = link(z, pfn, order);
  if (l.prev != kNoPfn) link(*zone_of(l.prev), l.prev, order).next = l.next;
  else free_head_[order] = l.next;
  if (l.next != kNoPfn) link(*zone_of(l.next), l.next, order).prev = l.prev;
  else free_tail_[order] = l.prev;
  PageInfo& head = info(z, pfn);
  head.state = PageState::kTail;
  head.reported = 0;
  --free_blocks_[order];
  free_pages_ -= 1ull << order;
}

void BuddyAllocator::insert_free(Zone& z, uint64_t pfn, unsigned order, bool reported) {
  const unsigned original_order = order;
  info(z, pfn).state = PageState::kTail;
  while (order < kMaxOrder) {
    uint64_t buddy = pfn ^ (1ull << order);
    if (buddy < z.start_pfn || buddy + (1ull << order) > z.end_pfn) break;
    const PageInfo& b = info(z, buddy);
    if (b.state != PageState::kFree || b.order != order) break;
    remove_free(z, buddy, order);
    if (buddy < pfn) pfn = buddy;
    ++order;
  }
  // A reported block that merged is a new, unreported block (as in Linux); Linux does not
  // notify for put-backs either way.
  const bool still_reported = reported && order == original_order;
  push_free(z, pfn, order, still_reported, still_reported);
  if (!reported && order >= kReportingNotifyOrder) ++large_frees_;
}

uint64_t BuddyAllocator::alloc_pages(unsigned order, ReclaimStage reclaim) {
  uint64_t address = take_block(order);
  if (address != 0 || reclaiming_ || order > kMaxOrder) return address;
  // Reclaim only when memory is short: with 2^order pages free but no block that large,
  // dropping caches would empty them for a request only compaction could serve.
  reclaiming_ = true;
  for (size_t i = 0; i < reclaimer_count_ && address == 0 && free_pages_ < (1ull << order);) {
    const Reclaimer& r = *reclaimers_[i];
    if (r.stage > reclaim) break;  // sorted: no later one may run either
    const bool serves = r.stage != ReclaimStage::kOom || order == 0;
    if (!serves || r.reclaim(r.context) == 0) {
      ++i;  // this one has nothing (more) to give: the next stage
      continue;
    }
    address = take_block(order);
  }
  reclaiming_ = false;
  return address;
}

bool BuddyAllocator::add_reclaimer(const Reclaimer* reclaimer) {
  if (reclaimer_count_ == kMaxReclaimers) return false;
  size_t at = reclaimer_count_;
  while (at > 0 && reclaimers_[at - 1]->stage > reclaimer->stage) {
    reclaimers_[at] = reclaimers_[at - 1];
    --at;
  }
  reclaimers_[at] = reclaimer;
  ++reclaimer_count_;
  return true;
}

uint64_t BuddyAllocator::reclaimable_page_count(ReclaimStage up_to) const {
  uint64_t pages = 0;
  for (size_t i = 0; i < reclaimer_count_ && reclaimers_[i]->stage <= up_to; ++i)
    pages += reclaimers_[i]->reclaimable(reclaimers_[i]->context);
  return pages;
}

uint64_t BuddyAllocator::take_block(unsigned order) {
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
  info(z, pfn) = make_page_info(PageState::kAllocated, order);
  return pfn << kPageShift;
}

bool BuddyAllocator::containing_block(const Zone& z, uint64_t pfn, uint64_t* head, PageInfo* state) {
  // The block holding pfn is aligned to its size, so its head is pfn aligned down to some
  // order; every page between that head and pfn is a tail. The first non-tail page met
  // going down the alignments is therefore the head, or the metadata is broken.
  for (unsigned order = 0; order <= kMaxOrder; ++order) {
    const uint64_t candidate = pfn & ~((1ull << order) - 1);
    if (candidate < z.start_pfn) return false;
    const PageInfo s = peek(z, candidate);
    if (s.state == PageState::kTail) continue;
    if (s.state == PageState::kReserved) {
      if (candidate != pfn) return false;
    } else if (s.order > kMaxOrder || candidate + (1ull << s.order) <= pfn) {
      return false;
    }
    *head = candidate;
    *state = s;
    return true;
  }
  return false;
}

bool BuddyAllocator::alloc_page_at(uint64_t address) {
  const uint64_t pfn = address >> kPageShift;
  Zone* z = zone_of(pfn);
  if (z == nullptr) return false;
  uint64_t head = 0;
  PageInfo state{};
  if (!containing_block(*z, pfn, &head, &state) || state.state != PageState::kFree) return false;
  unsigned order = state.order;
  remove_free(*z, head, order);
  // Split down to the page: the half without it goes back on its list at each step.
  while (order > 0) {
    --order;
    const uint64_t half = 1ull << order;
    if (pfn < head + half) {
      push_free(*z, head + half, order);
    } else {
      push_free(*z, head, order);
      head += half;
    }
  }
  info(*z, pfn) = make_page_info(PageState::kAllocated, 0);
  return true;
}

void BuddyAllocator::free_pages(uint64_t address, unsigned order) {
  uint64_t pfn = address >> kPageShift;
  Zone* z = zone_of(pfn);
  if (z == nullptr || (address & (kPageSize - 1)) != 0) allocator_bug("free of a page it does not manage", address, order);
  const PageInfo& state = info(*z, pfn);
  if (state.state != PageState::kAllocated) allocator_bug("free of a block that is not allocated", address, order);
  if (state.order != order) allocator_bug("free with the wrong order", address, order);
  insert_free(*z, pfn, order);
}

bool BuddyAllocator::isolate_free_block(uint64_t address, unsigned order) {
  uint64_t pfn = address >> kPageShift;
  Zone* z = zone_of(pfn);
  if (z == nullptr || order > kMaxOrder) return false;
  const PageInfo state = peek(*z, pfn);
  if (state.state != PageState::kFree || state.order != order) return false;
  remove_free(*z, pfn, order);
  info(*z, pfn) = make_page_info(PageState::kAllocated, order);
  return true;
}

void BuddyAllocator::free_reported(uint64_t address, unsigned order) {
  uint64_t pfn = address >> kPageShift;
  Zone* z = zone_of(pfn);
  if (z == nullptr || (address & (kPageSize - 1)) != 0) allocator_bug("put-back of a page it does not manage", address, order);
  const PageInfo& state = info(*z, pfn);
  if (state.state != PageState::kAllocated || state.order != order)
    allocator_bug("put-back of a block that is not isolated at that order", address, order);
  insert_free(*z, pfn, order, true);
}

bool BuddyAllocator::is_reported(uint64_t address) const {
  const uint64_t pfn = address >> kPageShift;
  const Zone* z = zone_of(pfn);
  if (z == nullptr) return false;
  const PageInfo state = peek(*z, pfn);
  return state.state == PageState::kFree && state.reported != 0;
}

bool BuddyAllocator::check_invariants(const char** problem) const {
  uint64_t free_pages = 0;
  uint64_t free_blocks[kOrderCount] = {};
  for (size_t i = 0; i < zone_count_; ++i) {
    const Zone& z = zones_[i];
    for (uint64_t pfn = z.start_pfn; pfn < z.end_pfn;) {
      const PageInfo state = peek(z, pfn);
      if (state.state == PageState::kReserved) {
        ++pfn;
        continue;
      }
      if (state.state == PageState::kTail) {
        *problem = "tail page outside any block";
        return false;
      }
      if (state.reported != 0 && state.state != PageState::kFree) {
        *problem = "reported flag on a page that is not a free block's head";
        return false;
      }
      const uint64_t size = 1ull << state.order;
      if (state.order > kMaxOrder || (pfn & (size - 1)) != 0 || pfn + size > z.end_pfn) {
        *problem = "block misaligned, too large or past its zone";
        return false;
      }
      for (uint64_t p = pfn + 1; p < pfn + size; ++p) {
        if (peek(z, p).state != PageState::kTail) {
          *problem = "block page that is not a tail";
          return false;
        }
      }
      if (state.state == PageState::kFree) {
        free_pages += size;
        ++free_blocks[state.order];
        uint64_t buddy = pfn ^ size;
        if (state.order < kMaxOrder && buddy >= z.start_pfn && buddy + size <= z.end_pfn) {
          const PageInfo b = peek(z, buddy);
          if (b.state == PageState::kFree && b.order == state.order) {
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
      const PageInfo state = peek(*z, pfn);
      if (state.state != PageState::kFree || state.order != order) {
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
    if (prev != free_tail_[order]) {
      *problem = "free list tail pointer wrong";
      return false;
    }
    if (listed != free_blocks_[order] || listed != free_blocks[order]) {
      *problem = "free list length differs from the block count";
      return false;
    }
  }
  return true;
}

}  // namespace tg::mm
