// The page cache (see page_cache.hpp).
#include "mm/page_cache.hpp"

namespace tg::mm {
namespace {

// The list is one max-order block at most (a WordArray does not chain blocks).
constexpr uint64_t kMaxEntries = (kPageSize << kMaxOrder) / sizeof(uint64_t);

PageCache g_page_cache;

}  // namespace

PageCache& page_cache() { return g_page_cache; }

bool PageCache::reserve(uint64_t more) {
  // Forget the dropped entries: nothing allocates here, so reclaim cannot run meanwhile.
  if (first_ > 0) {
    const size_t live = blocks_.size() - first_;
    for (size_t i = 0; i < live; ++i) blocks_[i] = blocks_[first_ + i];
    blocks_.resize(live);
    first_ = 0;
    droppable_end_ = live;
  }
  const size_t size = blocks_.size();
  if (size + more > kMaxEntries) more = kMaxEntries - size;
  if (!blocks_.resize(size + more)) return false;
  blocks_.resize(size);
  return true;
}

bool PageCache::grow(uint64_t page_count, size_t* first, const char** error) {
  if (!registered_) {
    reclaimer_ = Reclaimer{&PageCache::reclaim, &PageCache::reclaimable, this, ReclaimStage::kShrink};
    if (!page_allocator().add_reclaimer(&reclaimer_)) {
      *error = "no room for another reclaimer";
      return false;
    }
    registered_ = true;
  }
  const BuddyAllocator& allocator = page_allocator();
  if (page_count > allocator.free_page_count() + allocator.reclaimable_page_count() || !reserve(page_count)) {
    *error = "not enough memory";
    return false;
  }
  if (pages_ == 0) ++generation_;
  *first = blocks_.size();
  droppable_end_ = blocks_.size();  // older blocks may go to make room, these may not
  uint64_t remaining = page_count;
  unsigned max_order = kMaxOrder;
  while (remaining > 0) {
    unsigned order = max_order;
    while ((1ull << order) > remaining) --order;
    const uint64_t block = alloc_pages(order);
    if (block == 0) {
      if (order == 0) break;
      max_order = order - 1;  // nothing this large left: smaller blocks from now on
      continue;
    }
    if (!blocks_.push(block | order)) {
      free_pages(block, order);
      break;
    }
    pages_ += 1ull << order;
    adding_pages_ += 1ull << order;
    remaining -= 1ull << order;
  }
  if (remaining > 0) {
    // Give back this call's blocks; the older ones that went to make room stay dropped.
    for (size_t i = *first; i < blocks_.size(); ++i) free_pages(block_address(i), block_order(i));
    pages_ -= adding_pages_;
    blocks_.resize(*first);
  }
  adding_pages_ = 0;
  droppable_end_ = blocks_.size();
  if (remaining > 0) {
    *error = "out of memory";
    return false;
  }
  // Reclaim may have dropped every older block meanwhile.
  if (*first < first_) *first = first_;
  return true;
}

uint64_t PageCache::drop_all() {
  const uint64_t pages = pages_;
  for (size_t i = first_; i < blocks_.size(); ++i) free_pages(block_address(i), block_order(i));
  blocks_.release();
  first_ = 0;
  droppable_end_ = 0;
  pages_ = 0;
  return pages;
}

uint64_t PageCache::drop_oldest() {
  if (first_ >= droppable_end_) return 0;
  const uint64_t pages = 1ull << block_order(first_);
  free_pages(block_address(first_), block_order(first_));
  ++first_;
  pages_ -= pages;
  dropped_ += pages;
  return pages;
}

uint64_t PageCache::reclaim(void* context) { return static_cast<PageCache*>(context)->drop_oldest(); }

uint64_t PageCache::reclaimable(void* context) {
  const auto* self = static_cast<PageCache*>(context);
  return self->pages_ - self->adding_pages_;
}

}  // namespace tg::mm
