// memory.stat of a memcg node: what the memory manager reports about a guest's pages,
// aggregated up the tree. The tree stores and sums; it measures nothing itself (except
// forced_charges, which it counts in charge_force).
//   gauges (pages now; go up and down, never below zero):
//     resident    pages Present with a frame        ballooned  pages given to the balloon
//     reported    pages reported free by the guest  swapped    pages in the swap file
//     shared      pages mapped copy-on-write        granted    foreign frames mapped in
//   counters (monotonic):
//     faults, fault_around (faults that filled a whole extent), swap_in, swap_out,
//     reclaimed_reported / reclaimed_balloon / reclaimed_swap (pages taken back by each
//     reclaimer, cheapest first), forced_charges (charge_force calls that went over a max)
// Only guests (leaves) report; a group's figure is the sum over its subtree. When a guest
// is removed its gauges leave its ancestors' sums and its counters stay in them (the
// kernel likewise folds a dead cgroup's counts into its parent).
// Plain struct; the tree's lock protects it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tide::gmm::memcg {

enum class Stat : uint8_t {
  resident,
  ballooned,
  reported,
  swapped,
  shared,
  granted,
  // counters from here on
  faults,
  fault_around,
  swap_in,
  swap_out,
  reclaimed_reported,
  reclaimed_balloon,
  reclaimed_swap,
  forced_charges,
};
inline constexpr size_t kStatCount = 14;
inline constexpr Stat kFirstCounter = Stat::faults;

[[nodiscard]] constexpr bool is_gauge(Stat s) { return s < kFirstCounter; }

[[nodiscard]] constexpr const char* stat_name(Stat s) {
  switch (s) {
    case Stat::resident: return "resident";
    case Stat::ballooned: return "ballooned";
    case Stat::reported: return "reported";
    case Stat::swapped: return "swapped";
    case Stat::shared: return "shared";
    case Stat::granted: return "granted";
    case Stat::faults: return "faults";
    case Stat::fault_around: return "fault_around";
    case Stat::swap_in: return "swap_in";
    case Stat::swap_out: return "swap_out";
    case Stat::reclaimed_reported: return "reclaimed_reported";
    case Stat::reclaimed_balloon: return "reclaimed_balloon";
    case Stat::reclaimed_swap: return "reclaimed_swap";
    case Stat::forced_charges: return "forced_charges";
  }
  return "?";
}

struct MemcgStat {
  std::array<uint64_t, kStatCount> n{};

  [[nodiscard]] uint64_t operator[](Stat s) const { return n[static_cast<size_t>(s)]; }
  [[nodiscard]] uint64_t& operator[](Stat s) { return n[static_cast<size_t>(s)]; }
  friend bool operator==(const MemcgStat&, const MemcgStat&) = default;
};

}  // namespace tide::gmm::memcg
