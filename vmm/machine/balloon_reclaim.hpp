// How far the balloon may be asked to inflate when the memory manager reclaims for a
// memory cgroup (gmm::reclaim::GuestHooks::balloon_reclaim): only as far as the guest's
// latest statistics say it can give, keeping a reserve for the guest, minus what was asked
// and not yet delivered. Pure: the balloon controller feeds it the device's status.
//
// The rule, in 4 KiB pages:
//   can_give = available - reserve - max(target - actual, asked since these stats)
//   asked    = min(wanted, can_give, room under the balloon's limits)
// `available` is VIRTIO_BALLOON_S_AVAIL if the guest sent it, else MEMFREE (+ CACHES, which
// the guest drops first). Pages asked since the statistics arrived may already be in the
// balloon (then `actual` grew and the figure did not shrink yet) or still on their way
// (then target - actual counts them): the larger of the two is what the figure no longer
// has. No driver, no statistics, or statistics older than max_stats_age: nothing is asked.
// The limits are the balloon policy's (balloon/balloon_policy.hpp): the guest keeps at
// least min_guest_bytes, the balloon stays within max_balloon_bytes.
#pragma once

#include <cstdint>
#include <optional>

#include "balloon/balloon_policy.hpp"
#include "balloon/guest_stats.hpp"

namespace tide::vmm {

inline constexpr uint64_t kBalloonReclaimReserveBytes = uint64_t{16} << 20;

struct BalloonReclaimInput {
  uint64_t wanted_pages = 0;
  bool active = false;  // the driver is there (DRIVER_OK)
  uint64_t ram_pages = 0;
  uint64_t target_pages = 0;
  uint64_t actual_pages = 0;
  std::optional<uint64_t> available_bytes;  // from the latest statistics (reclaimable_bytes)
  uint64_t stats_age_ns = 0;
  uint64_t asked_since_stats_pages = 0;  // pages this rule asked since those statistics arrived
  uint64_t reserve_bytes = kBalloonReclaimReserveBytes;
  uint64_t max_stats_age_ns = uint64_t{10} * 1000 * 1000 * 1000;
  balloon::GuestMemoryLimits limits;
};

// The pages to add to the target (0: ask nothing).
[[nodiscard]] uint64_t balloon_reclaim_pages(const BalloonReclaimInput& in);

// What the guest's statistics say it could give: AVAIL, else MEMFREE plus CACHES (when
// sent); nullopt when it sent neither AVAIL nor MEMFREE.
[[nodiscard]] std::optional<uint64_t> reclaimable_bytes(const balloon::GuestStats& stats);

}  // namespace tide::vmm
