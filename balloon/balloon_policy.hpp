// Balloon policy: the automatic sizing rule, a pure function from what the host knows
// (the guest's size, balloon and latest stats, its limits, the pool's pressure) to the next
// balloon target. No state, no I/O, no clock: the caller passes the stats' age. Units are
// bytes; targets are whole 4 KiB pages (rounded down).
//
// The rule (auto mode). The goal is to leave the guest about `free_margin_bytes` of
// available memory (VIRTIO_BALLOON_S_AVAIL, or MEMFREE when the guest does not send it):
//   - more than margin + hysteresis available: inflate by the surplus (available - margin);
//   - less than margin - hysteresis available: deflate by the shortfall;
//   - otherwise keep the target (hysteresis stops oscillation around the margin).
// The move is measured from the balloon's current size (the stats describe the guest with
// the balloon it has, not the target it is heading to) and the new target is then at most
// `max_step_bytes` away from the current target.
// Pool pressure: when the pool's free fraction falls below `pressure_free_fraction`, the
// policy reclaims harder: the margin is scaled by `pressure_margin_scale` (0.5: the guest
// keeps half the usual margin), an inflate needs no hysteresis, and the step may be
// `pressure_step_scale` times larger. Deflates are still granted (down to the reduced
// margin): a guest short of memory would otherwise swap or OOM.
// Limits always win, over the step bound too: the target never leaves the guest less than
// `min_guest_bytes`, never exceeds `max_balloon_bytes` or the guest's RAM.
// Missing or stale stats (older than `max_stats_age_ns`): the target is kept (only clamped
// to the limits); the policy does not guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "balloon/guest_stats.hpp"

namespace tide::balloon {

struct BalloonPolicyParams {
  uint64_t free_margin_bytes = uint64_t{256} << 20;  // available memory to leave the guest
  uint64_t hysteresis_bytes = uint64_t{32} << 20;    // dead band around the margin
  uint64_t max_step_bytes = uint64_t{256} << 20;     // largest target change per decision
  uint64_t max_stats_age_ns = uint64_t{10} * 1000 * 1000 * 1000;  // older stats are ignored
  double pressure_free_fraction = 0.10;  // pool free / total below this: under pressure
  double pressure_margin_scale = 0.5;    // margin multiplier under pressure (0..1)
  uint64_t pressure_step_scale = 2;      // step multiplier under pressure (>= 1)
};

struct GuestMemoryLimits {
  uint64_t min_guest_bytes = 0;               // memory the guest keeps whatever happens
  uint64_t max_balloon_bytes = UINT64_MAX;    // the balloon never grows past this
};

struct PoolPressure {
  uint64_t free_bytes = 0;
  uint64_t total_bytes = 0;  // 0: unknown (no pressure assumed)
  [[nodiscard]] bool high(double free_fraction_threshold) const;
};

// The guest's latest stats as the policy needs them.
struct PolicyStats {
  uint64_t available_bytes = 0;
  uint64_t age_ns = 0;  // now - when the device received them
};

struct PolicyInput {
  uint64_t guest_ram_bytes = 0;
  uint64_t target_bytes = 0;   // the balloon target now
  uint64_t balloon_bytes = 0;  // the balloon's size now
  std::optional<PolicyStats> stats;
  GuestMemoryLimits limits;
  PoolPressure pool;
  BalloonPolicyParams params;
};

enum class PolicyAction : uint8_t { kKeep, kInflate, kDeflate };
[[nodiscard]] const char* policy_action_name(PolicyAction action);

struct BalloonPolicyDecision {
  uint64_t target_bytes = 0;  // a multiple of 4 KiB
  PolicyAction action = PolicyAction::kKeep;  // target_bytes against the input's target
  std::string reason;         // one short line for logs and the API
  [[nodiscard]] uint64_t target_pages() const;
};

// The next target. Pure; thread: any.
[[nodiscard]] BalloonPolicyDecision decide_target(const PolicyInput& input);

// PolicyStats from a device's GuestStats at `now_ns` (the device clock); nullopt if the
// guest sent neither AVAIL nor MEMFREE.
[[nodiscard]] std::optional<PolicyStats> policy_stats(const GuestStats& stats, uint64_t now_ns);

}  // namespace tide::balloon
