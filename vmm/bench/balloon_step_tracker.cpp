#include "vmm/bench/balloon_step_tracker.hpp"

#include <algorithm>

namespace tide::vmm::bench {

BalloonStepTracker::BalloonStepTracker(size_t index, const BalloonStep& step, double start_ms,
                                       uint64_t host_start_bytes, const BalloonTiming& timing)
    : timing_(timing) {
  r_.index = index;
  r_.step = step;
  r_.start_ms = start_ms;
  r_.end_ms = start_ms;
  r_.host_start_bytes = host_start_bytes;
  r_.host_end_bytes = host_start_bytes;
  quiet_host_ = host_start_bytes;
  quiet_since_ms_ = start_ms;
}

bool BalloonStepTracker::observe(double t_ms, const BalloonSample& sample) {
  if (done_) return true;
  t_ms = std::max(t_ms, r_.end_ms);
  r_.end_ms = t_ms;
  r_.host_end_bytes = sample.host_bytes;

  const uint64_t host = sample.host_bytes;
  const uint64_t moved = host > quiet_host_ ? host - quiet_host_ : quiet_host_ - host;
  if (moved > timing_.settle_tolerance_bytes) {
    quiet_host_ = host;
    quiet_since_ms_ = t_ms;
  }

  const bool at_target = sample.actual_bytes == r_.step.balloon_bytes;
  if (!r_.reach_ms && at_target) {
    r_.reach_ms = t_ms - r_.start_ms;
    r_.host_reach_bytes = host;
    r_.host_window_bytes = host;
  } else if (r_.reach_ms && !window_closed_) {
    if (t_ms <= r_.start_ms + *r_.reach_ms + timing_.release_window_ms) r_.host_window_bytes = host;
    else window_closed_ = true;
  }

  if (r_.reach_ms && at_target) {
    const double reach_at = r_.start_ms + *r_.reach_ms;
    // Quiet counts from reach on: memory that stood still while the guest was still
    // moving pages says nothing about the end of the step.
    const bool quiet = t_ms - std::max(quiet_since_ms_, reach_at) >= timing_.settle_ms;
    const bool window_over = r_.step.kind() != StepKind::inflate || t_ms >= reach_at + timing_.release_window_ms;
    if (quiet && window_over) {
      r_.settled = true;
      done_ = true;
      return true;
    }
  }
  if (t_ms - r_.start_ms >= timing_.step_timeout_ms) {
    r_.timed_out = true;
    done_ = true;
  }
  return done_;
}

BalloonStepResult BalloonStepTracker::result() const {
  BalloonStepResult r = r_;
  if (r.step.kind() == StepKind::inflate && r.reach_ms) {
    const uint64_t growth = r.step.balloon_bytes - r.step.from_bytes;
    r.released_fraction = static_cast<double>(r.host_drop_bytes()) / static_cast<double>(growth);
  }
  return r;
}

}  // namespace tide::vmm::bench
