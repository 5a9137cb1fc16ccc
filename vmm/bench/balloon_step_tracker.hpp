// BalloonStepTracker: follows one step of the balloon experiment sample by sample, says
// when the step is over and what it measured. Pure (times are passed in), so the figures
// can be checked on synthetic series.
//
// A step starts when its target is set (start_ms) and ends when the balloon's `actual`
// equals the target, host memory has not moved by more than a tolerance for settle_ms,
// and, for an inflate, release_window_ms have passed since `actual` first reached the
// target; or when step_timeout_ms have passed (timed_out, kept in the results).
#pragma once

#include <cstdint>
#include <optional>

#include "vmm/bench/balloon_schedule.hpp"
#include "vmm/bench/balloon_subject.hpp"

namespace tide::vmm::bench {

struct BalloonTiming {
  double poll_ms = 5;                            // between samples
  double settle_ms = 300;                        // host memory quiet this long ends a step
  uint64_t settle_tolerance_bytes = 1ull << 20;  // moves below this count as quiet (RSS jitter)
  double step_timeout_ms = 30000;
  double release_window_ms = 1000;  // host memory released this soon after reaching counts
};

struct BalloonStepResult {
  size_t index = 0;  // 1-based, as in the CSV
  BalloonStep step;
  double start_ms = 0;  // target set, on the run's clock
  double end_ms = 0;
  std::optional<double> reach_ms;  // from start_ms until `actual` first equalled the target
  bool settled = false;            // ended by the rule above, not by the timeout
  bool timed_out = false;
  uint64_t host_start_bytes = 0;   // the last sample before the target was set
  uint64_t host_reach_bytes = 0;   // at reach (0 if never reached)
  uint64_t host_end_bytes = 0;     // the step's last sample
  uint64_t host_window_bytes = 0;  // inflate: the last sample at most release_window_ms after reach
  // Inflate steps that reached the target: (host_start - host_window) / (balloon growth).
  // 1.0: every ballooned byte left the host within the window; negative: host grew.
  std::optional<double> released_fraction;
  [[nodiscard]] int64_t host_drop_bytes() const {
    return static_cast<int64_t>(host_start_bytes) - static_cast<int64_t>(host_window_bytes);
  }
};

class BalloonStepTracker {
 public:
  BalloonStepTracker(size_t index, const BalloonStep& step, double start_ms, uint64_t host_start_bytes,
                     const BalloonTiming& timing);

  // Takes the sample taken at `t_ms` (not before start_ms, not going back). Returns true
  // when the step is over (settled or timed out); later samples are ignored.
  bool observe(double t_ms, const BalloonSample& sample);
  [[nodiscard]] bool done() const { return done_; }
  // The figures so far (final once done()).
  [[nodiscard]] BalloonStepResult result() const;

 private:
  BalloonTiming timing_;
  BalloonStepResult r_;
  bool done_ = false;
  bool window_closed_ = false;
  double quiet_since_ms_ = 0;   // host memory within tolerance of quiet_host_ since then
  uint64_t quiet_host_ = 0;
};

}  // namespace tide::vmm::bench
