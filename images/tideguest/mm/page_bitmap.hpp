// PageBitmap: one bit per page frame below a limit, with a count of the bits set. Two
// levels: a top array of leaf pointers (allocated by init, zeroed) and 4 KiB leaves of
// 32768 bits (128 MiB of RAM each) taken from the page allocator the first time a bit in
// their range is set, so an empty bitmap costs one small array whatever the RAM size.
// Leaves stay until release(). Boot CPU only, like the page allocator.
#pragma once

#include <cstdint>

#include "mm/phys_map.hpp"

namespace tg::mm {

class PageBitmap {
 public:
  static constexpr uint64_t kLeafBits = kPageSize * 8;
  static constexpr uint64_t kNone = ~0ull;

  PageBitmap() = default;
  PageBitmap(const PageBitmap&) = delete;
  PageBitmap& operator=(const PageBitmap&) = delete;
  ~PageBitmap() { release(); }

  // Covers frames [0, pfn_limit). False when the top array cannot be allocated.
  bool init(uint64_t pfn_limit);
  void release();
  bool initialized() const { return leaves_ != nullptr; }

  // False when pfn is past the limit, already set, or its leaf cannot be allocated.
  bool set(uint64_t pfn);
  // False when it was not set.
  bool clear(uint64_t pfn);
  bool test(uint64_t pfn) const;
  uint64_t count() const { return count_; }
  uint64_t limit() const { return limit_; }
  // Bits set in [first, first + n).
  uint64_t count_range(uint64_t first, uint64_t n) const;
  // The highest set frame below `below`, or kNone.
  uint64_t find_last_below(uint64_t below) const;
  // Calls fn(pfn) for every set frame in ascending order (fn must not change the bitmap).
  template <typename Fn>
  void for_each_set(Fn&& fn) const;

 private:
  uint64_t** leaves_ = nullptr;
  uint64_t leaf_count_ = 0;
  unsigned top_order_ = 0;
  uint64_t limit_ = 0;
  uint64_t count_ = 0;
};

template <typename Fn>
void PageBitmap::for_each_set(Fn&& fn) const {
  constexpr uint64_t kWords = kLeafBits / 64;
  for (uint64_t leaf = 0; leaf < leaf_count_; ++leaf) {
    const uint64_t* words = leaves_[leaf];
    if (words == nullptr) continue;
    for (uint64_t w = 0; w < kWords; ++w) {
      for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1)
        fn(leaf * kLeafBits + w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits)));
    }
  }
}

}  // namespace tg::mm
