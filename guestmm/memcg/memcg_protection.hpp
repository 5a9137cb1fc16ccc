// Protection: cgroup v2's effective memory.min/memory.low, and the plan that shares a
// reclaim goal among guests under pressure. Pure functions over a flat view of a subtree
// (MemcgTree builds the view under its lock and records the plan's low events); any thread.
//
// The effective-protection rule is the kernel's (mm/page_counter.c,
// page_counter_calculate_protection() and effective_protection(), formerly in
// mm/memcontrol.c), applied top-down from a reclaim root:
//   - the reclaim root itself is unprotected (a node is never protected from its own limit);
//   - its children get their own settings: emin = min, elow = low;
//   - below that, a node with usage U, setting S, whose parent has effective protection PE
//     and whose siblings (itself included) protect SP = sum over them of min(usage, S):
//       protected = min(U, S)
//       if SP > PE:  e = protected * PE / SP          (overcommitted: shares in proportion
//                                                      to protected usage, rounded down)
//       else:        e = protected                     (a child's protection from a sibling
//                                                      is capped by its own setting)
//       recursive:   e += (PE - SP) * (U - protected) / (parent_usage - SP)
//                    (memory_recursiveprot: the parent's unclaimed protection shared in
//                     proportion to unprotected usage; off by default, as in the kernel)
//   - a node with no usage has no effective protection (the kernel leaves a stale value
//     that nothing reads; tide writes 0 so results are deterministic).
// Effective values may exceed usage (children of the reclaim root get the raw setting);
// what protects pages is min(usage, e).
//
// The pressure plan (pool-wide or under a node that hit its max) takes a goal of N pages:
//   pass 1: each guest's pages above max(emin, elow), shared in proportion to that excess;
//   pass 2: only if pass 1 could not reach N: pages between emin and max(emin, elow),
//           in proportion (a low event for each guest touched, counted by the tree);
//   pages under emin are never planned; what neither pass reaches is `unmet`.
// Shares are exact integers: floors first, then the remaining pages one each to the largest
// fractional parts (ties to the earlier guest in tree order), never above a guest's room.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/memcg/memcg_types.hpp"

namespace tide::gmm::memcg {

inline constexpr size_t kNoParent = SIZE_MAX;

// One node of the subtree under a reclaim root. Element 0 is the reclaim root (parent
// kNoParent); every other element's parent is an earlier element.
struct ProtectionInput {
  MemcgId id;
  size_t parent = kNoParent;
  uint64_t usage = 0;  // current, pages
  uint64_t min = 0;    // settings, pages
  uint64_t low = 0;
  bool leaf = false;
};

struct EffectiveProtection {
  MemcgId id;
  uint64_t emin = 0;  // pages
  uint64_t elow = 0;
};

// The kernel's effective_protection() for one node (see above). Products are computed in
// 128 bits, so any page counts are exact.
[[nodiscard]] uint64_t effective_protection(uint64_t usage, uint64_t parent_usage, uint64_t setting,
                                            uint64_t parent_effective, uint64_t siblings_protected,
                                            bool recursive);

// Effective min and low of every node of `nodes` (same order). invalid_argument if the
// view is malformed (empty, element 0 with a parent, a parent not before its child).
[[nodiscard]] Result<std::vector<EffectiveProtection>> compute_protection(std::span<const ProtectionInput> nodes,
                                                                         bool recursive);

struct ReclaimShare {
  MemcgId leaf;
  uint64_t pages = 0;     // pages to reclaim from this guest
  uint64_t from_low = 0;  // of which under its low protection (pass 2)
};

struct ReclaimPlan {
  std::vector<ReclaimShare> shares;  // guests with pages > 0, in tree order
  uint64_t goal = 0;
  uint64_t planned = 0;   // sum of shares' pages (== goal - unmet)
  uint64_t from_low = 0;  // sum of shares' from_low
  uint64_t unmet = 0;     // pages no guest can give without breaking min
};

// Shares `goal` pages among the leaves of `nodes`, given their protection (the result of
// compute_protection on the same view). invalid_argument if the spans differ in size.
[[nodiscard]] Result<ReclaimPlan> plan_reclaim(std::span<const ProtectionInput> nodes,
                                               std::span<const EffectiveProtection> protection, uint64_t goal);

// The sharing rule alone: `goal` pages out of `room` (per candidate), in proportion to room,
// exact and deterministic as described above. Returns one amount per candidate.
[[nodiscard]] std::vector<uint64_t> share_out(std::span<const uint64_t> room, uint64_t goal);

}  // namespace tide::gmm::memcg
