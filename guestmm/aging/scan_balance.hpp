// Scan balance: how far one reclaim pass over a guest's PageLru goes — how many inactive
// pages it examines for victims and how many active pages it deactivates — from the list
// sizes, the goal and swappiness (the ideas of Linux mm/vmscan.c get_scan_count and
// inactive_is_low). plan_scan() is pure; shrink_lru() applies a plan to a PageLru and
// needs that PageLru's lock, like every PageLru call.
//
// swappiness in tide (0..200, default 60, the range of memory.swappiness). Linux uses it to
// weigh anonymous pages against page cache; a guest is all anonymous memory to tide, so here
// it weighs swapping guest pages out now against leaving the rest of the goal to the
// cheaper sources the memcg tries around the LRU (pages the guest reported free, the
// balloon) and to further aging. It scales two things, in opposite directions:
//   - how many inactive pages a pass may examine per page it wants: 1x the goal at 0, 2x at
//     100, 3x at 200. A deep scan still finds its victims when the inactive tail is mostly
//     referenced; a shallow one stops early and leaves a shortfall for the caller to take
//     elsewhere;
//   - how many active pages it deactivates beyond what keeps the inactive list at its target
//     size: the goal's share of the active list at 0, nothing extra at 200. Low swappiness
//     spends cheap aging work (no I/O) so that the pages it does swap out have had a whole
//     trip through the inactive list to prove themselves referenced.
// Neither extreme stops reclaim: whenever the goal and the lists are non-empty, a plan
// examines at least one inactive page or, if the inactive list is empty, deactivates at
// least one active page.
#pragma once

#include <cstdint>
#include <vector>

#include "guestmm/aging/page_lru.hpp"

namespace tide::gmm::aging {

inline constexpr unsigned kMaxSwappiness = 200;
inline constexpr unsigned kDefaultSwappiness = 60;

// Target ratio active:inactive for lists holding `nr_lru_pages` 4 KiB pages in all: Linux's
// inactive_ratio, int_sqrt(10 * size in GiB), and 1 below 1 GiB. 1 GiB -> 3, 10 GiB -> 10,
// 100 GiB -> 31, 1 TiB -> 101.
[[nodiscard]] uint64_t inactive_ratio(uint64_t nr_lru_pages);
// True if the inactive list is below its target: nr_inactive * ratio < nr_active.
[[nodiscard]] bool inactive_is_low(uint64_t nr_inactive, uint64_t nr_active);

struct ScanInput {
  uint64_t nr_inactive = 0;
  uint64_t nr_active = 0;
  uint64_t nr_to_reclaim = 0;                 // pages the caller wants back from this guest
  unsigned swappiness = kDefaultSwappiness;   // 0..200; larger values are taken as 200
};

struct ScanPlan {
  uint64_t nr_scan_inactive = 0;  // inactive pages to examine from the tail (<= nr_inactive)
  uint64_t nr_deactivate = 0;     // active pages to move to the inactive list (<= nr_active)
  uint64_t inactive_ratio = 1;    // the target used

  constexpr bool operator==(const ScanPlan&) const = default;
};

// The plan for one pass. The victims a pass may take are min(nr_to_reclaim, nr_scan_inactive)
// at most (fewer when scanned pages are referenced). nr_deactivate refills the inactive list
// so that, if every examined page were taken, nr_inactive * ratio >= nr_active afterwards,
// plus swappiness's pre-aging share. Pure; any thread.
[[nodiscard]] ScanPlan plan_scan(const ScanInput& in);

struct ReclaimPass {
  ScanPlan plan;
  ScanStats isolate;  // moved = victims appended
  ScanStats age;      // moved = pages deactivated
};

// One reclaim pass over `lru`: plans from its current sizes, isolates up to nr_to_reclaim
// victims (appended to `victims`, oldest first), then deactivates. Victims are taken before
// deactivating, so a page just deactivated always gets a whole trip through the inactive
// list before it can be a victim: with an empty inactive list a pass takes nothing and only
// refills it; the caller passes again. Deactivation examines at most 2 * nr_deactivate + 32
// active pages, bounding the time under the lock when the active list is all referenced.
// The caller then reclaims each victim and remove()s it, or putback()s those it could not.
// Cost O(pages examined); call with the PageLru's lock held, in batches (hundreds of pages)
// so the fault path is not kept waiting.
ReclaimPass shrink_lru(PageLru& lru, uint64_t nr_to_reclaim, unsigned swappiness, std::vector<uint64_t>& victims);

// Background aging, for the sampler thread once per period (Linux kswapd's
// age_active_anon): if the inactive list is below its target, deactivates up to `batch`
// active pages, no more than the target needs, examining at most 2 * batch. Keeps a supply
// of inactive pages whose references are being watched, so that reclaim's first pass finds
// victims without deactivating pages it must then take at once. Needs the PageLru's lock.
ScanStats age_if_inactive_low(PageLru& lru, uint64_t batch = 32);

}  // namespace tide::gmm::aging
