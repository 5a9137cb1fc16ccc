// `tide run`'s memory-control flags: the guest's memory cgroup limits (--memory-max,
// --memory-high, --memory-low, --memory-min, --swap-max: a size or "max") and its reclaim
// settings (--oom-policy stall|stop, --swappiness N, --swap-size SIZE, --swap-dir DIR).
// Sizes as every tide size flag: 512M, 2G, a bare number is MiB; limits must be whole
// 4 KiB pages. Pure.
#pragma once

#include <initializer_list>

#include "guestmm/base/error.hpp"
#include "vmm/cli/args.hpp"
#include "vmm/machine/machine_memcg.hpp"

namespace tide::vmm {

// The flags' names (without "--"), for Args declarations and conflict checks.
inline constexpr std::initializer_list<const char*> kMemcgFlags = {
    "memory-max", "memory-high", "memory-low", "memory-min", "swap-max",
    "oom-policy", "swappiness", "swap-size", "swap-dir"};

// The machine's memcg from the flags (the leaf under the root). Errors name the flag.
[[nodiscard]] Result<MachineMemcg> memcg_from_flags(const Args& args);
// Whether any memory-control flag was given.
[[nodiscard]] bool memcg_flags_given(const Args& args);

}  // namespace tide::vmm
