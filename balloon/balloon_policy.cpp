#include "balloon/balloon_policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "guestmm/base/log.hpp"
#include "guestmm/types.hpp"

namespace tide::balloon {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

uint64_t page_down(uint64_t bytes) { return gmm::align_down(bytes, gmm::kPageSize); }
uint64_t add_sat(uint64_t a, uint64_t b) { return a > kMax - b ? kMax : a + b; }
uint64_t sub_sat(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
uint64_t mul_sat(uint64_t a, uint64_t b) { return b != 0 && a > kMax / b ? kMax : a * b; }
double mib(uint64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(uint64_t{1} << 20); }

// `bytes` scaled by `factor` in [0, 1] (a NaN or out-of-range factor is clamped).
uint64_t scaled(uint64_t bytes, double factor) {
  if (!(factor > 0.0)) return 0;
  if (factor >= 1.0) return bytes;
  return static_cast<uint64_t>(std::floor(static_cast<double>(bytes) * factor));
}

PolicyAction action_of(uint64_t next, uint64_t current) {
  if (next > current) return PolicyAction::kInflate;
  if (next < current) return PolicyAction::kDeflate;
  return PolicyAction::kKeep;
}

}  // namespace

bool PoolPressure::high(double free_fraction_threshold) const {
  if (total_bytes == 0) return false;
  return static_cast<double>(std::min(free_bytes, total_bytes)) / static_cast<double>(total_bytes) <
         free_fraction_threshold;
}

const char* policy_action_name(PolicyAction action) {
  switch (action) {
    case PolicyAction::kKeep: return "keep";
    case PolicyAction::kInflate: return "inflate";
    case PolicyAction::kDeflate: return "deflate";
  }
  return "unknown";
}

uint64_t BalloonPolicyDecision::target_pages() const { return target_bytes >> gmm::kPageShift; }

std::optional<PolicyStats> policy_stats(const GuestStats& stats, uint64_t now_ns) {
  auto available = stats.available_bytes();
  if (!available) return std::nullopt;
  return PolicyStats{*available, sub_sat(now_ns, stats.updated_ns)};
}

BalloonPolicyDecision decide_target(const PolicyInput& in) {
  const BalloonPolicyParams& p = in.params;
  // The largest target the limits allow: the guest keeps its floor; the balloon its cap.
  const uint64_t ram = page_down(in.guest_ram_bytes);
  const uint64_t cap = page_down(std::min(sub_sat(ram, in.limits.min_guest_bytes), in.limits.max_balloon_bytes));
  const uint64_t current = page_down(in.target_bytes);

  BalloonPolicyDecision d;
  auto limited = [&](uint64_t target, std::string reason) {
    if (target > cap) {
      reason += log::strf("; limited to %.0f MiB (guest keeps >= %.0f MiB, balloon <= %.0f MiB)", mib(cap),
                          mib(in.limits.min_guest_bytes), mib(std::min(in.limits.max_balloon_bytes, ram)));
      target = cap;
    }
    d.target_bytes = target;
    d.action = action_of(target, current);
    if (d.action != PolicyAction::kKeep) {
      reason += log::strf("; %s to %.0f MiB", policy_action_name(d.action), mib(target));
    }
    d.reason = std::move(reason);
    return d;
  };

  if (!in.stats) return limited(current, "no guest stats: target kept");
  if (in.stats->age_ns > p.max_stats_age_ns) {
    return limited(current, log::strf("guest stats %.1f s old: target kept", static_cast<double>(in.stats->age_ns) / 1e9));
  }

  const bool pressure = in.pool.high(p.pressure_free_fraction);
  const uint64_t margin = pressure ? scaled(p.free_margin_bytes, p.pressure_margin_scale) : p.free_margin_bytes;
  const uint64_t inflate_band = pressure ? 0 : p.hysteresis_bytes;
  const uint64_t step = pressure ? mul_sat(p.max_step_bytes, std::max<uint64_t>(p.pressure_step_scale, 1))
                                 : p.max_step_bytes;
  const uint64_t available = in.stats->available_bytes;
  std::string why = log::strf("guest has %.0f MiB available, margin %.0f MiB%s", mib(available), mib(margin),
                              pressure ? " (pool under pressure)" : "");

  uint64_t desired = current;
  if (available > add_sat(margin, inflate_band)) {
    desired = add_sat(in.balloon_bytes, available - margin);
    why += log::strf(": %.0f MiB surplus", mib(available - margin));
  } else if (add_sat(available, p.hysteresis_bytes) < margin) {
    desired = sub_sat(in.balloon_bytes, margin - available);
    why += log::strf(": %.0f MiB short", mib(margin - available));
  } else {
    return limited(current, why + ": within hysteresis, target kept");
  }
  if (desired > add_sat(current, step)) {
    desired = add_sat(current, step);
    why += log::strf(", step-limited to %.0f MiB", mib(step));
  } else if (desired < sub_sat(current, step)) {
    desired = sub_sat(current, step);
    why += log::strf(", step-limited to %.0f MiB", mib(step));
  }
  return limited(page_down(desired), why);
}

}  // namespace tide::balloon
