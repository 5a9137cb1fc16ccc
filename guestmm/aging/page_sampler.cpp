#include "guestmm/aging/page_sampler.hpp"

#include <algorithm>
#include <bit>

namespace tide::gmm::aging {

SampleRound PageSampler::begin_round(PageLru& lru, uint64_t max_samples) {
  SampleRound r;
  for (const PageRun& run : last_round_) {
    for (uint64_t i = run.first; i < run.first + run.count; ++i) {
      if (lru.sampled(i)) ++r.cold;
    }
  }
  r.faults = faults_this_period_;
  r.still_sampled = lru.nr_sampled();
  faults_this_period_ = 0;
  for (uint32_t i : seen_) lru.clear_seen(i);
  seen_.clear();
  last_round_.clear();

  const uint64_t n = lru.nr_pages();
  if (hand_ >= n) hand_ = 0;
  while (r.visited < n && r.sampled < max_samples) {
    const uint64_t i = hand_;
    hand_ = i + 1 == n ? 0 : i + 1;
    ++r.visited;
    if (hand_ == 0) r.wrapped = true;
    if (!lru.set_sampled(i)) continue;
    ++r.sampled;
    if (!r.to_unmap.empty() && r.to_unmap.back().first + r.to_unmap.back().count == i) {
      ++r.to_unmap.back().count;
    } else {
      r.to_unmap.push_back(PageRun{i, 1});
    }
  }
  last_round_ = r.to_unmap;
  ++stats_.rounds;
  stats_.sampled += r.sampled;
  stats_.cold += r.cold;
  return r;
}

bool PageSampler::on_fault(PageLru& lru, uint64_t index) {
  if (!lru.clear_sampled(index)) return false;
  ++faults_this_period_;
  ++stats_.faults;
  note_reference(lru, index);
  return true;
}

Touch PageSampler::note_reference(PageLru& lru, uint64_t index) {
  if (!lru.resident(index)) return Touch::not_resident;
  if (!lru.set_seen(index)) {
    ++stats_.same_period;
    return Touch::same_period;
  }
  seen_.push_back(static_cast<uint32_t>(index));
  ++stats_.references;
  return lru.mark_referenced(index);
}

uint64_t PageSampler::mark_dirty(PageLru& lru, uint64_t first_index, std::span<const uint64_t> bitmap, uint64_t nr_bits) {
  uint64_t passed = 0;
  const uint64_t words = std::min<uint64_t>(bitmap.size(), nr_bits / 64 + (nr_bits % 64 != 0 ? 1 : 0));
  for (uint64_t w = 0; w < words; ++w) {
    uint64_t bits = bitmap[w];
    if (w == nr_bits / 64) bits &= (uint64_t{1} << (nr_bits % 64)) - 1;  // the partial last word
    while (bits != 0) {
      const uint64_t bit = static_cast<uint64_t>(std::countr_zero(bits));
      bits &= bits - 1;
      const uint64_t offset = w * 64 + bit;
      if (first_index >= lru.nr_pages() || offset >= lru.nr_pages() - first_index) {
        ++stats_.out_of_range;
        continue;
      }
      ++stats_.dirty_bits;
      const Touch t = note_reference(lru, first_index + offset);
      if (t != Touch::not_resident && t != Touch::same_period) ++passed;
    }
  }
  return passed;
}

}  // namespace tide::gmm::aging
