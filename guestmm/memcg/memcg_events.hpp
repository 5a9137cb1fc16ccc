// memory.events of a memcg node: monotonic counts of limit and protection events, with
// cgroup v2's meaning (Documentation/admin-guide/cgroup-v2.rst, "memory.events"):
//   low       the node was reclaimed although under its effective low protection
//             (pool-wide pressure had nothing unprotected left to take)
//   high      a charge left the node above its high threshold (the caller throttles or
//             reclaims)
//   max       a charge was about to take the node above its max (the charge failed there,
//             or charge_force went through anyway)
//   oom       the node hit an out-of-memory condition (max could not be met by reclaim,
//             or the pool ran out under it)
//   oom_kill  a guest under the node was chosen to be stopped by the OOM policy
//   swap_max  a swap charge was about to take the node above swap.max (swap.events max)
//   swap_fail a swap-out of this guest could not be charged (swap.events fail)
// Each node keeps two sets, as the kernel does: `events` counts the node and all its
// descendants (an event is counted at the node and every ancestor, the root included:
// the root's counts are the host's totals), `events_local` only the node itself.
// Plain struct; the tree's lock protects it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tide::gmm::memcg {

enum class Event : uint8_t { low, high, max, oom, oom_kill, swap_max, swap_fail };
inline constexpr size_t kEventCount = 7;

// The name in memory.events / memory.swap.events: "low", ..., "oom_kill", "swap.max",
// "swap.fail" (the last two prefixed to tell them from memory's own max).
[[nodiscard]] constexpr const char* event_name(Event e) {
  switch (e) {
    case Event::low: return "low";
    case Event::high: return "high";
    case Event::max: return "max";
    case Event::oom: return "oom";
    case Event::oom_kill: return "oom_kill";
    case Event::swap_max: return "swap.max";
    case Event::swap_fail: return "swap.fail";
  }
  return "?";
}

struct MemcgEvents {
  std::array<uint64_t, kEventCount> n{};

  [[nodiscard]] uint64_t operator[](Event e) const { return n[static_cast<size_t>(e)]; }
  [[nodiscard]] uint64_t& operator[](Event e) { return n[static_cast<size_t>(e)]; }
  friend bool operator==(const MemcgEvents&, const MemcgEvents&) = default;
};

}  // namespace tide::gmm::memcg
