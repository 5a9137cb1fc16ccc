// PageSet allocation and lookup (see page_set.hpp).
#include "mm/page_set.hpp"

#include "lib/sort.hpp"

namespace tg::mm {

bool PageSet::allocate(uint64_t page_count) {
  release();
  if (page_count == 0) return true;
  // Pages the reclaimers (page cache, deflate-on-OOM) can give back count as available.
  const BuddyAllocator& pages = page_allocator();
  if (page_count > pages.free_page_count() + pages.reclaimable_page_count()) return false;
  uint64_t remaining = page_count;
  unsigned max_order = kMaxOrder;
  while (remaining > 0) {
    unsigned order = max_order;
    while ((1ull << order) > remaining) --order;
    uint64_t block = alloc_pages(order);
    if (block == 0) {
      // Nothing of this order left: the rest comes in smaller blocks.
      if (order == 0) break;
      max_order = order - 1;
      continue;
    }
    if (!blocks_.push(block | order)) {
      free_pages(block, order);
      break;
    }
    remaining -= 1ull << order;
  }
  if (remaining > 0 || !first_page_.resize(blocks_.size())) {
    release();
    return false;
  }
  lib::sort_u64(blocks_.data(), blocks_.size());
  uint64_t next = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    first_page_[i] = next;
    next += block_page_count(i);
  }
  page_count_ = page_count;
  return true;
}

void PageSet::release() {
  for (size_t i = 0; i < blocks_.size(); ++i) free_pages(block_address(i), block_order(i));
  blocks_.release();
  first_page_.release();
  page_count_ = 0;
}

void PageSet::forget() {
  blocks_.abandon();
  first_page_.abandon();
  page_count_ = 0;
}

uint64_t PageSet::page_address(uint64_t page) const {
  // The last block starting at or before `page`.
  size_t lo = 0, hi = blocks_.size();
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (first_page_[mid] <= page) lo = mid;
    else hi = mid;
  }
  return block_address(lo) + (page - first_page_[lo]) * kPageSize;
}

}  // namespace tg::mm
