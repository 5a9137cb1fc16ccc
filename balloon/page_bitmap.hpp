// PageBitmap: one bit per guest RAM page (indexed by BalloonBackend::page_index) with a
// running count of set bits. The balloon keeps the pages it holds here, so its size is
// exact at all times; check_invariants() recounts.
// Not thread-safe: the owner serializes every access.
#pragma once

#include <cstdint>
#include <vector>

#include "guestmm/base/error.hpp"

namespace tide::balloon {

class PageBitmap {
 public:
  explicit PageBitmap(uint64_t nr_pages = 0);

  [[nodiscard]] uint64_t size() const { return nr_pages_; }
  [[nodiscard]] uint64_t count() const { return count_; }
  // `index` < size() (callers check; out of range is a bug of ours and reads false).
  [[nodiscard]] bool test(uint64_t index) const;
  // Sets the bit; false (and no change) if it was already set.
  bool set(uint64_t index);
  // Clears the bit; false (and no change) if it was already clear.
  bool clear(uint64_t index);
  void clear_all();

  // Calls fn(index) for each set bit, in increasing order.
  template <class Fn>
  void for_each_set(Fn&& fn) const {
    for (uint64_t w = 0; w < words_.size(); ++w) {
      uint64_t bits = words_[w];
      while (bits != 0) {
        auto bit = static_cast<uint64_t>(__builtin_ctzll(bits));
        fn(w * 64 + bit);
        bits &= bits - 1;
      }
    }
  }

  // The count matches the bits; no bit past size() is set.
  [[nodiscard]] Status check_invariants() const;

 private:
  uint64_t nr_pages_;
  uint64_t count_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace tide::balloon
