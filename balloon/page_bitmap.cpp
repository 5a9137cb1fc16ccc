#include "balloon/page_bitmap.hpp"

#include <algorithm>
#include <bit>

#include "guestmm/base/log.hpp"

namespace tide::balloon {

PageBitmap::PageBitmap(uint64_t nr_pages) : nr_pages_(nr_pages), words_((nr_pages + 63) / 64, 0) {}

bool PageBitmap::test(uint64_t index) const {
  if (index >= nr_pages_) return false;
  return (words_[index / 64] >> (index % 64)) & 1u;
}

bool PageBitmap::set(uint64_t index) {
  if (index >= nr_pages_) return false;
  uint64_t& word = words_[index / 64];
  uint64_t bit = uint64_t{1} << (index % 64);
  if (word & bit) return false;
  word |= bit;
  ++count_;
  return true;
}

bool PageBitmap::clear(uint64_t index) {
  if (index >= nr_pages_) return false;
  uint64_t& word = words_[index / 64];
  uint64_t bit = uint64_t{1} << (index % 64);
  if ((word & bit) == 0) return false;
  word &= ~bit;
  --count_;
  return true;
}

void PageBitmap::clear_all() {
  std::fill(words_.begin(), words_.end(), 0);
  count_ = 0;
}

Status PageBitmap::check_invariants() const {
  uint64_t n = 0;
  for (uint64_t w : words_) n += static_cast<uint64_t>(std::popcount(w));
  if (n != count_) {
    return make_error(std::errc::state_not_recoverable,
                      log::strf("page bitmap: %llu bits set, count says %llu", static_cast<unsigned long long>(n),
                                static_cast<unsigned long long>(count_)));
  }
  if (nr_pages_ % 64 != 0 && !words_.empty() && (words_.back() >> (nr_pages_ % 64)) != 0) {
    return make_error(std::errc::state_not_recoverable, "page bitmap: bits set past the last page");
  }
  return ok();
}

}  // namespace tide::balloon
