// A machine's memory cgroup (ARCHITECTURE.md §3 "Memory cgroups"): which group its guest
// leaf goes under, the limits written once the leaf exists, and the reclaim settings the
// memory manager keeps per guest (OOM policy, swappiness, swap file). Plus the group-path
// helpers the machine and the control API share: the syntax check (pure) and "create the
// missing groups on a path" (on the tree, whose own lock makes it safe from any thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/memcg/memcg_limits.hpp"
#include "guestmm/memcg/memcg_tree.hpp"
#include "guestmm/reclaim/guest_limits.hpp"

namespace tide::vmm {

struct MemcgLimitSetting {
  gmm::memcg::Limit limit = gmm::memcg::Limit::max;
  uint64_t pages = gmm::memcg::kUnlimited;  // kUnlimited: "max"
  bool operator==(const MemcgLimitSetting&) const = default;
};

struct MachineMemcg {
  // The group the guest's leaf goes under: "/tenant/team"; missing groups are created.
  // Empty or "/": directly under the root.
  std::string group;
  // Written in this order once the leaf exists (usage is 0 then, so none of them reclaims).
  std::vector<MemcgLimitSetting> limits;
  gmm::reclaim::OomPolicy oom_policy = gmm::reclaim::OomPolicy::stall;
  unsigned swappiness = gmm::aging::kDefaultSwappiness;
  uint64_t swap_bytes = 0;     // the swap file's ceiling; 0: the guest's RAM size
  std::string swap_directory;  // empty: $TIDE_SWAP_DIR, else /var/tmp/tide-swap
  bool operator==(const MachineMemcg&) const = default;
};

// Ok if `path` can name a group a guest's leaf goes under: "/" (the root), or "/a/b" with
// every name valid (gmm::memcg::valid_node_name) and at most kMaxGroupDepth names, so the
// guest's leaf still fits under the tree's depth limit. invalid_argument says what is wrong.
inline constexpr size_t kMaxGroupDepth = gmm::memcg::kMaxDepth - 2;
[[nodiscard]] Status check_memcg_group_path(std::string_view path);

// The group at `path` ("" and "/" are the root), creating the missing groups on the way
// (as `mkdir -p`). `created`, if given, is set when the last one was created here.
// Errors: check_memcg_group_path's; a node on the path is a guest (invalid_argument).
[[nodiscard]] Result<gmm::memcg::MemcgId> ensure_memcg_group(gmm::memcg::MemcgTree& tree, std::string_view path,
                                                             bool* created = nullptr);

// "memory.max 512M" style names for messages: "memory.max", "memory.swap.max".
[[nodiscard]] std::string memcg_file_name(gmm::memcg::Limit limit);

}  // namespace tide::vmm
