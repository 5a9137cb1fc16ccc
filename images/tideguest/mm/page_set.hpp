// PageSet: a working set of pages taken from the page allocator in the largest blocks
// available (so it need not be contiguous), sorted by address. Page i of the set is its
// i-th page in address order; block_first_page() and page_address() map between the two.
// The block list lives in page-allocator memory too. Owns its blocks: release() or the
// destructor frees them, forget() leaves them (and the list) allocated. Boot CPU only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mm/word_array.hpp"

namespace tg::mm {

class PageSet {
 public:
  PageSet() = default;
  PageSet(const PageSet&) = delete;
  PageSet& operator=(const PageSet&) = delete;
  ~PageSet() { release(); }

  // Takes `page_count` pages (any previous contents are released first). False, holding
  // nothing, when that many pages (plus the list's own) cannot be allocated.
  bool allocate(uint64_t page_count);
  // Frees every block and the list.
  void release();
  // Forgets the blocks without freeing them.
  void forget();

  bool empty() const { return page_count_ == 0; }
  uint64_t page_count() const { return page_count_; }
  size_t block_count() const { return blocks_.size(); }
  // Physical address, order and index of the first page of block i (i < block_count()).
  uint64_t block_address(size_t i) const { return blocks_[i] & ~kOrderMask; }
  unsigned block_order(size_t i) const { return static_cast<unsigned>(blocks_[i] & kOrderMask); }
  uint64_t block_page_count(size_t i) const { return 1ull << block_order(i); }
  uint64_t block_first_page(size_t i) const { return first_page_[i]; }
  // Physical address of page `page` (< page_count()); a binary search over the blocks.
  uint64_t page_address(uint64_t page) const;

 private:
  static constexpr uint64_t kOrderMask = kPageSize - 1;  // a block's order sits in its low bits

  WordArray blocks_;      // address | order, ascending
  WordArray first_page_;  // first_page_[i]: index of block i's first page
  uint64_t page_count_ = 0;
};

}  // namespace tg::mm
