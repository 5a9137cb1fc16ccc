// Helpers for the swap tests: page-aligned page buffers (as O_DIRECT and the fake want),
// filled with bytes that differ from page to page, and a checksum to compare them by.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "guestmm/host/mapping.hpp"
#include "guestmm/swap/swap_store.hpp"

namespace tide::gmm::swap::test {

// Asserts a Status/Result is good, printing its error.
#define SWAP_ASSERT_OK(expr)                                 \
  do {                                                       \
    const auto& swap_ok_ = (expr);                           \
    ASSERT_TRUE(swap_ok_) << swap_ok_.error().message();     \
  } while (0)

// FNV-1a over one page.
inline uint64_t checksum(const std::byte* page) {
  uint64_t h = 0xcbf29ce484222325;
  for (size_t i = 0; i < kSlotSize; ++i) {
    h ^= static_cast<uint64_t>(page[i]);
    h *= 0x100000001b3;
  }
  return h;
}

class PageBuffer {
 public:
  explicit PageBuffer(uint64_t nr_pages) : nr_pages_(nr_pages) {
    auto m = host::Mapping::anonymous(nr_pages * kSlotSize);
    EXPECT_TRUE(m) << m.error().message();
    if (m) memory_ = std::move(*m);
  }
  [[nodiscard]] std::byte* page(uint64_t i) const { return memory_.data() + i * kSlotSize; }
  [[nodiscard]] uint64_t nr_pages() const { return nr_pages_; }
  // Page i gets bytes drawn from (seed, i): different for every page and every seed.
  void fill(uint64_t seed) {
    for (uint64_t i = 0; i < nr_pages_; ++i) fill_page(i, seed);
  }
  void fill_page(uint64_t i, uint64_t seed) {
    std::mt19937_64 rng(seed * 1000003 + i);
    for (size_t k = 0; k < kSlotSize; k += 8) {
      const uint64_t v = rng();
      for (size_t b = 0; b < 8; ++b) page(i)[k + b] = static_cast<std::byte>(v >> (8 * b));
    }
  }
  [[nodiscard]] uint64_t sum(uint64_t i) const { return checksum(page(i)); }
  // PageOuts for pages [first, first + n), page i owned by P2M index base + i.
  [[nodiscard]] std::vector<PageOut> outs(uint64_t first, uint64_t n, uint64_t base) const {
    std::vector<PageOut> v;
    for (uint64_t i = first; i < first + n; ++i) v.push_back(PageOut{base + i, page(i)});
    return v;
  }

 private:
  uint64_t nr_pages_;
  host::Mapping memory_;
};

}  // namespace tide::gmm::swap::test
