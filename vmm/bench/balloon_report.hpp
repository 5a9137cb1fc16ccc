// The balloon experiment's outputs: the sample series and the step table as CSV, the
// text summary printed at the end (per-step times, and the headline: the descent's
// inflate time and released fraction, tide/QEMU ratios), and all of them written into
// one directory with the plot (balloon_plot.hpp). Formatting is pure; only
// write_balloon_report touches files.
#pragma once

#include <string>
#include <vector>

#include "vmm/bench/balloon_experiment.hpp"

namespace tide::vmm::bench {

// One row per sample: vmm,run,t_ms,step,target_mib,actual_mib,host_mib,pool_free_mib.
// MiB with 3 decimals (a 4 KiB page is 0.004 MiB), t_ms with 3.
[[nodiscard]] std::string format_samples_csv(const std::vector<BalloonRun>& runs);
// One row per step: vmm,run,step,kind,guest_percent,from_mib,target_mib,start_ms,
// reach_ms,end_ms,status,host_start_mib,host_reach_mib,host_end_mib,host_window_mib,
// released_fraction. Missing figures (never reached, not an inflate) are empty fields;
// status is settled, timeout or aborted.
[[nodiscard]] std::string format_steps_csv(const std::vector<BalloonRun>& runs);

struct BalloonReportInfo {
  std::string schedule;  // BalloonSchedule::describe()
  uint64_t memory_bytes = 0;
  double release_window_ms = 1000;
};
// The summary for the terminal: what was run, the step table of every run, the headline.
[[nodiscard]] std::string format_balloon_summary(const std::vector<BalloonRun>& runs, const BalloonReportInfo& info);

struct BalloonReportFiles {
  std::string samples_csv, steps_csv, png, summary;
};
// Writes DIR/balloon.csv, DIR/balloon-steps.csv, DIR/balloon-summary.txt and
// DIR/balloon.png (with DIR/balloon.gp, its gnuplot script). Errors: a file cannot be
// written; the plot failed (the CSVs are written by then; the error says so).
[[nodiscard]] Result<BalloonReportFiles> write_balloon_report(const std::string& dir, const std::vector<BalloonRun>& runs,
                                                              const BalloonReportInfo& info);

}  // namespace tide::vmm::bench
