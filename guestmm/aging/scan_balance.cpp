#include "guestmm/aging/scan_balance.hpp"

#include <algorithm>
#include <cstdint>

#include "guestmm/types.hpp"

namespace tide::gmm::aging {
namespace {

__extension__ typedef unsigned __int128 Wide;  // products of two page counts

// ceil(a * b / c), saturating at 2^64-1; c > 0.
uint64_t mul_div_ceil(uint64_t a, uint64_t b, uint64_t c) {
  const Wide q = (Wide{a} * b + c - 1) / c;
  return q > Wide{UINT64_MAX} ? UINT64_MAX : static_cast<uint64_t>(q);
}

uint64_t isqrt(uint64_t v) {
  uint64_t lo = 0, hi = uint64_t{1} << 32;
  while (lo + 1 < hi) {  // largest r with r * r <= v
    const uint64_t mid = lo + (hi - lo) / 2;
    if (Wide{mid} * mid <= v) lo = mid; else hi = mid;
  }
  return lo;
}

// The smallest d with (inactive + d) * ratio >= active - d: deactivations that bring the
// inactive list up to its target. Never more than `active`.
uint64_t refill_for(uint64_t inactive, uint64_t active, uint64_t ratio) {
  const Wide kept = Wide{inactive} * ratio;
  if (kept >= active) return 0;
  return static_cast<uint64_t>((Wide{active} - kept + ratio) / (ratio + 1));
}

uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

constexpr uint64_t kPagesPerGiB = (uint64_t{1} << 30) / kPageSize;
constexpr uint64_t kAgeScanSlack = 32;  // Linux's SWAP_CLUSTER_MAX

}  // namespace

uint64_t inactive_ratio(uint64_t nr_lru_pages) {
  const uint64_t gib = nr_lru_pages / kPagesPerGiB;
  return gib == 0 ? 1 : isqrt(10 * gib);
}

bool inactive_is_low(uint64_t nr_inactive, uint64_t nr_active) {
  return Wide{nr_inactive} * inactive_ratio(sat_add(nr_inactive, nr_active)) < nr_active;
}

ScanPlan plan_scan(const ScanInput& in) {
  const uint64_t swappiness = std::min<uint64_t>(in.swappiness, kMaxSwappiness);
  const uint64_t active = in.nr_active;
  const uint64_t inactive = in.nr_inactive;
  const uint64_t total = sat_add(active, inactive);
  ScanPlan plan;
  plan.inactive_ratio = inactive_ratio(total);
  const uint64_t want = std::min(in.nr_to_reclaim, total);
  if (want == 0) return plan;

  plan.nr_scan_inactive = std::min(inactive, mul_div_ceil(want, 100 + swappiness, 100));

  // Refill: the smallest d with (left + d) * ratio >= active - d, where `left` is what the
  // inactive list keeps if every examined page is taken. d <= active always.
  const uint64_t left = inactive - std::min(want, plan.nr_scan_inactive);
  const uint64_t refill = refill_for(left, active, plan.inactive_ratio);
  // Pre-aging: the active list's share of the goal, scaled down as swappiness rises.
  const uint64_t pre_age = mul_div_ceil(mul_div_ceil(want, kMaxSwappiness - swappiness, kMaxSwappiness), active, total);
  plan.nr_deactivate = refill + std::min(pre_age, active - refill);
  return plan;
}

ReclaimPass shrink_lru(PageLru& lru, uint64_t nr_to_reclaim, unsigned swappiness, std::vector<uint64_t>& victims) {
  ReclaimPass pass;
  pass.plan = plan_scan(ScanInput{lru.nr_inactive(), lru.nr_active(), nr_to_reclaim, swappiness});
  pass.isolate = lru.isolate_cold(nr_to_reclaim, victims, pass.plan.nr_scan_inactive);
  if (pass.plan.nr_deactivate > 0) {
    pass.age = lru.age(pass.plan.nr_deactivate, sat_add(sat_add(pass.plan.nr_deactivate, pass.plan.nr_deactivate), kAgeScanSlack));
  }
  return pass;
}

ScanStats age_if_inactive_low(PageLru& lru, uint64_t batch) {
  const uint64_t active = lru.nr_active();
  const uint64_t inactive = lru.nr_inactive();
  const uint64_t need = refill_for(inactive, active, inactive_ratio(sat_add(active, inactive)));
  if (need == 0 || batch == 0) return ScanStats{};
  const uint64_t n = std::min(need, batch);
  return lru.age(n, sat_add(n, n));
}

}  // namespace tide::gmm::aging
