// Two-level page bitmap (see page_bitmap.hpp).
#include "mm/page_bitmap.hpp"

#include "lib/string.hpp"
#include "mm/buddy.hpp"

namespace tg::mm {
namespace {

// No libgcc (__popcountdi2) and no POPCNT assumed: the SWAR count.
uint64_t popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (x * 0x0101010101010101ull) >> 56;
}

}  // namespace

bool PageBitmap::init(uint64_t pfn_limit) {
  release();
  const uint64_t leaves = (pfn_limit + kLeafBits - 1) / kLeafBits;
  const unsigned order = order_for_bytes(leaves * sizeof(uint64_t*));
  if (leaves == 0 || order > kMaxOrder) return false;
  const uint64_t top = alloc_pages(order);
  if (top == 0) return false;
  memset(reinterpret_cast<void*>(top), 0, kPageSize << order);
  leaves_ = reinterpret_cast<uint64_t**>(top);
  leaf_count_ = leaves;
  top_order_ = order;
  limit_ = pfn_limit;
  count_ = 0;
  return true;
}

void PageBitmap::release() {
  if (leaves_ == nullptr) return;
  for (uint64_t i = 0; i < leaf_count_; ++i) {
    if (leaves_[i] != nullptr) free_pages(reinterpret_cast<uint64_t>(leaves_[i]), 0);
  }
  free_pages(reinterpret_cast<uint64_t>(leaves_), top_order_);
  leaves_ = nullptr;
  leaf_count_ = 0;
  limit_ = 0;
  count_ = 0;
}

bool PageBitmap::set(uint64_t pfn) {
  if (pfn >= limit_) return false;
  uint64_t*& leaf = leaves_[pfn / kLeafBits];
  if (leaf == nullptr) {
    const uint64_t page = alloc_pages(0);
    if (page == 0) return false;
    memset(reinterpret_cast<void*>(page), 0, kPageSize);
    leaf = reinterpret_cast<uint64_t*>(page);
  }
  uint64_t& word = leaf[(pfn % kLeafBits) / 64];
  const uint64_t bit = 1ull << (pfn % 64);
  if (word & bit) return false;
  word |= bit;
  ++count_;
  return true;
}

bool PageBitmap::clear(uint64_t pfn) {
  if (!test(pfn)) return false;
  leaves_[pfn / kLeafBits][(pfn % kLeafBits) / 64] &= ~(1ull << (pfn % 64));
  --count_;
  return true;
}

bool PageBitmap::test(uint64_t pfn) const {
  if (pfn >= limit_) return false;
  const uint64_t* leaf = leaves_[pfn / kLeafBits];
  return leaf != nullptr && ((leaf[(pfn % kLeafBits) / 64] >> (pfn % 64)) & 1) != 0;
}

uint64_t PageBitmap::count_range(uint64_t first, uint64_t n) const {
  uint64_t total = 0;
  for (uint64_t pfn = first; pfn < first + n && pfn < limit_;) {
    const uint64_t* leaf = leaves_[pfn / kLeafBits];
    if (leaf == nullptr) {
      pfn = (pfn / kLeafBits + 1) * kLeafBits;
      continue;
    }
    if (pfn % 64 == 0 && pfn + 64 <= first + n) {
      total += popcount64(leaf[(pfn % kLeafBits) / 64]);
      pfn += 64;
    } else {
      total += (leaf[(pfn % kLeafBits) / 64] >> (pfn % 64)) & 1;
      ++pfn;
    }
  }
  return total;
}

uint64_t PageBitmap::find_last_below(uint64_t below) const {
  if (below > limit_) below = limit_;
  if (below == 0 || count_ == 0) return kNone;
  uint64_t pfn = below - 1;
  for (;;) {
    const uint64_t leaf_index = pfn / kLeafBits;
    const uint64_t* leaf = leaves_[leaf_index];
    if (leaf != nullptr) {
      uint64_t w = (pfn % kLeafBits) / 64;
      // Bits at or below pfn in its word, then whole words down to the leaf's start.
      uint64_t bits = leaf[w] & (pfn % 64 == 63 ? ~0ull : (2ull << (pfn % 64)) - 1);
      for (;;) {
        if (bits != 0) return leaf_index * kLeafBits + w * 64 + 63 - static_cast<uint64_t>(__builtin_clzll(bits));
        if (w == 0) break;
        bits = leaf[--w];
      }
    }
    if (leaf_index == 0) return kNone;
    pfn = leaf_index * kLeafBits - 1;
  }
}

}  // namespace tg::mm
