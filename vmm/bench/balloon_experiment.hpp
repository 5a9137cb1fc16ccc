// The balloon experiment: boots one subject (tide or QEMU running tideguest's balloon
// driver), walks it through a schedule of balloon targets, samples the balloon and host
// memory every few milliseconds, and keeps the time series and a table of the steps
// (see BalloonStepTracker for when a step ends and what it measures).
// Threads: the caller's; it sleeps between samples (through an ExperimentClock, so tests
// drive it with a fake one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmm/bench/balloon_schedule.hpp"
#include "vmm/bench/balloon_step_tracker.hpp"
#include "vmm/bench/balloon_subject.hpp"

namespace tide::vmm::bench {

class ExperimentClock {
 public:
  virtual ~ExperimentClock() = default;
  [[nodiscard]] virtual double now_ms() = 0;  // monotonic, any origin
  virtual void sleep_ms(double ms) = 0;
};
// std::chrono::steady_clock and std::this_thread::sleep_for.
[[nodiscard]] ExperimentClock& steady_experiment_clock();

struct BalloonPoint {
  double t_ms = 0;  // since the first target was set
  size_t step = 0;  // 0: the baseline before the first step (until at rest); then 1-based
  BalloonSample sample;
};

struct BalloonRun {
  std::string vmm;    // subject's name()
  std::string accel;  // subject's accel()
  uint64_t memory_bytes = 0;
  size_t run = 1;     // 1-based, when the experiment is repeated
  std::vector<BalloonPoint> points;
  std::vector<BalloonStepResult> steps;
  std::string aborted;  // why the run ended before the schedule did ("" when it did not)
  std::optional<InflateCost> inflate_cost;  // the subject's own count, if it keeps one
};

// The figures a run is summed up by: the descent, i.e. the inflate steps from the start
// up to the first step that is not an inflate (default schedule: 100 -> 75 -> 50 -> 25).
struct BalloonHeadline {
  size_t descent_steps = 0;
  double from_percent = 100, to_percent = 100;
  // Sum of the descent's times to reach the target (ms); empty if any of them never got
  // there (then `timed_out`).
  std::optional<double> inflate_ms;
  bool timed_out = false;
  // Over the descent: sum of host drops within the release window / sum of balloon growth.
  std::optional<double> released_fraction;
  uint64_t inflated_bytes = 0;
  int64_t released_bytes = 0;
};
[[nodiscard]] BalloonHeadline balloon_headline(const BalloonRun& run);

// Starts `subject` with `config`, samples (step 0) until the balloon is empty and host
// memory at rest as a step's end is defined (at most step_timeout_ms), runs `schedule`,
// stops the subject. Logs one info line per step. Errors: start() failed (nothing to report). A failure later (set_target or
// sample) ends the run early, with what was measured so far and `aborted` saying why.
[[nodiscard]] Result<BalloonRun> run_balloon_experiment(BalloonSubject& subject, const BalloonSubjectConfig& config,
                                                        const BalloonSchedule& schedule, const BalloonTiming& timing,
                                                        ExperimentClock& clock = steady_experiment_clock());

}  // namespace tide::vmm::bench
