// What a guest brings to memory control besides its memcg settings: where its leaf goes,
// its swap area, its OOM policy and swappiness, and the hooks the VMM gives the memory
// manager for what only the VMM can do (ask the guest's balloon, stop the guest).
// Plain types; no locking.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "guestmm/aging/scan_balance.hpp"
#include "guestmm/base/error.hpp"
#include "guestmm/memcg/memcg_types.hpp"

namespace tide::gmm::reclaim {

// What happens to a guest that cannot be brought under its max (ARCHITECTURE.md §3):
//   stall  the faulting vCPU waits until memory is freed or the limit raised
//   stop   the guest is stopped and its frames freed (never picked twice while dying)
enum class OomPolicy : uint8_t { stall, stop };
[[nodiscard]] const char* oom_policy_name(OomPolicy p);
[[nodiscard]] Result<OomPolicy> parse_oom_policy(std::string_view text);

struct GuestLimitsOptions {
  memcg::MemcgId parent = memcg::kRootId;  // the root or a group (tenant)
  OomPolicy oom_policy = OomPolicy::stall;
  unsigned swappiness = aging::kDefaultSwappiness;
  // The swap file's size ceiling (sparse; created on the first swap-out). 0: the guest's
  // RAM size. The memcg's swap.max bounds what is charged; this bounds the file.
  uint64_t swap_bytes = 0;
  std::string swap_directory;  // empty: $TIDE_SWAP_DIR, else /var/tmp/tide-swap
};

struct GuestHooks {
  // Cooperative reclaim: ask the guest's balloon for up to `pages` more pages, as far as
  // its last statistics say it can give. Returns how many pages were asked (0: no
  // balloon, no statistics, nothing to give). Asynchronous: the frames come back later
  // through release(Ballooned). Called on the reclaim thread, with no guestmm lock held.
  std::function<uint64_t(uint64_t pages)> balloon_reclaim;
  // The OOM policy `stop` picked this guest: stop it and tear it down (asynchronously;
  // the memory manager is told when it is gone by remove_guest). Called on the reclaim
  // thread, with no guestmm lock held; must not block on the guest's teardown.
  std::function<void(const std::string& reason)> oom_stop;
};

}  // namespace tide::gmm::reclaim
