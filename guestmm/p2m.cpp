#include "guestmm/p2m.hpp"

#include <algorithm>

namespace tide::gmm {

const char* page_state_name(PageState s) {
  switch (s) {
    case PageState::empty: return "empty";
    case PageState::present: return "present";
    case PageState::ballooned: return "ballooned";
    case PageState::reported: return "reported";
    case PageState::swapped: return "swapped";
    case PageState::foreign: return "foreign";
    case PageState::shared: return "shared";
  }
  return "?";
}

Result<P2m> P2m::create(const std::vector<RamRange>& ranges) {
  P2m p;
  Gpa prev_end(0);
  for (const RamRange& r : ranges) {
    if (!page_aligned(r.base.value()) || !page_aligned(r.size_bytes) || r.size_bytes == 0 || r.base < prev_end) {
      return make_error(std::errc::invalid_argument, "guest RAM ranges must be page-aligned, sorted and disjoint");
    }
    prev_end = r.base + r.size_bytes;
    p.range_first_index_.push_back(p.nr_pages_);
    p.nr_pages_ += r.size_bytes >> kPageShift;
  }
  if (p.nr_pages_ == 0) return make_error(std::errc::invalid_argument, "a guest needs RAM");
  p.ranges_ = ranges;
  TIDE_TRY_ASSIGN(mem, host::Mapping::anonymous(p.nr_pages_ * sizeof(uint64_t)));
  p.table_ = host::as_array<uint64_t>(mem);
  p.memory_ = std::move(mem);
  p.locks_ = std::make_unique<std::mutex[]>(p.nr_extents());
  return p;
}

std::optional<uint64_t> P2m::index_of(Gfn gfn) const {
  for (size_t i = 0; i < ranges_.size(); ++i) {
    const Gfn first = gfn_of(ranges_[i].base);
    const uint64_t pages = ranges_[i].size_bytes >> kPageShift;
    if (gfn >= first && gfn - first < pages) return range_first_index_[i] + (gfn - first);
  }
  return std::nullopt;
}

Gfn P2m::gfn_at(uint64_t index) const {
  size_t i = ranges_.size() - 1;
  while (i > 0 && range_first_index_[i] > index) --i;
  return gfn_of(ranges_[i].base) + (index - range_first_index_[i]);
}

uint64_t P2m::extent_pages(uint64_t e) const {
  uint64_t first = e * kPagesPerExtent;
  return std::min(kPagesPerExtent, nr_pages_ - first);
}

}  // namespace tide::gmm
