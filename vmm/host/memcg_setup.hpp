// From a guest's definition (GuestConfig: <memtune>, <resource><partition>, tide's
// <metadata><tide:memory>, or the same in tide's JSON) to its machine's memory cgroup
// (MachineMemcg): the group, the limits in pages, and the reclaim settings. Pure.
//
// The mapping (docs/memcg.md):
//   hard_limit -> memory.max     soft_limit -> memory.high     min_guarantee -> memory.min
//   tide:memory low -> memory.low
//   swap_hard_limit -> memory.swap.max. libvirt defines swap_hard_limit as memory plus swap,
//   while cgroup v2's memory.swap.max counts swap alone. With a finite hard_limit, tide
//   writes swap_hard_limit - hard_limit (what the definition means: the guest may hold
//   hard_limit in memory and the rest in swap). Without one (unset or unlimited) there is
//   nothing to take off, and tide does what libvirt's cgroup v2 code
//   (virCgroupV2SetMemSwapHardLimit) does in every case: it writes swap_hard_limit itself.
//   An unlimited swap_hard_limit is "max".
// Sizes are rounded up to whole 4 KiB pages (as the domain XML reader already does);
// kUnlimited is the memcg's "max".
#pragma once

#include "guestmm/base/error.hpp"
#include "vmm/config/guest_config.hpp"
#include "vmm/machine/machine_memcg.hpp"

namespace tide::vmm {

// Errors (invalid_argument, naming the guest and the setting): swap_hard_limit below a
// finite hard_limit, a bad partition path, swappiness above 200, a relative swap directory.
[[nodiscard]] Result<MachineMemcg> machine_memcg(const GuestConfig& config);

}  // namespace tide::vmm
