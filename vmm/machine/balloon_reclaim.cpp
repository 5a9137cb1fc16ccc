#include "vmm/machine/balloon_reclaim.hpp"

#include <algorithm>

#include "balloon/balloon_spec.hpp"
#include "guestmm/types.hpp"

namespace tide::vmm {
namespace {

uint64_t sub_sat(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
uint64_t pages_up(uint64_t bytes) { return bytes / gmm::kPageSize + (bytes % gmm::kPageSize != 0 ? 1 : 0); }

}  // namespace

uint64_t balloon_reclaim_pages(const BalloonReclaimInput& in) {
  if (in.wanted_pages == 0 || !in.active || !in.available_bytes || in.stats_age_ns > in.max_stats_age_ns) return 0;
  const uint64_t outstanding = sub_sat(in.target_pages, in.actual_pages);
  const uint64_t spoken_for = std::max(outstanding, in.asked_since_stats_pages);
  const uint64_t available = *in.available_bytes / gmm::kPageSize;  // whole pages only
  const uint64_t can_give = sub_sat(available, pages_up(in.reserve_bytes) + spoken_for);
  // The balloon policy's limits hold here too: the guest keeps its floor, the balloon its cap.
  const uint64_t cap = std::min(sub_sat(in.ram_pages, pages_up(in.limits.min_guest_bytes)),
                                in.limits.max_balloon_bytes / gmm::kPageSize);
  const uint64_t room = sub_sat(cap, in.target_pages);
  return std::min({in.wanted_pages, can_give, room});
}

std::optional<uint64_t> reclaimable_bytes(const balloon::GuestStats& stats) {
  if (auto avail = stats.get(balloon::VIRTIO_BALLOON_S_AVAIL)) return avail;
  auto free = stats.get(balloon::VIRTIO_BALLOON_S_MEMFREE);
  if (!free) return std::nullopt;
  const uint64_t caches = stats.get(balloon::VIRTIO_BALLOON_S_CACHES).value_or(0);
  return *free > UINT64_MAX - caches ? UINT64_MAX : *free + caches;
}

}  // namespace tide::vmm
