// The balloon experiment's plot: balloon target, balloon actual and host-resident memory
// over time, one panel per VMM on the same axes, drawn by gnuplot (Debian's gnuplot-nox:
// pngcairo terminal, plain png as a fallback) from the samples CSV.
#pragma once

#include <string>
#include <vector>

#include "guestmm/base/error.hpp"

namespace tide::vmm::bench {

struct BalloonPlotPanel {
  std::string vmm;    // rows whose vmm column is this
  size_t run = 1;     // ... and whose run column is this
  std::string title;  // the panel's title
  bool pool_free = false;  // also draw pool_free_mib (tide)
};

struct BalloonPlotSpec {
  std::string csv_path;  // format_samples_csv's layout
  std::string png_path;
  std::string title;
  std::vector<BalloonPlotPanel> panels;
  double t_max_s = 1;   // x axis
  double y_max_mib = 1; // y axis, shared by every panel
};

// The gnuplot script for `spec` with `terminal` ("pngcairo" or "png"). Pure.
[[nodiscard]] std::string balloon_gnuplot_script(const BalloonPlotSpec& spec, const std::string& terminal);

// Writes the script to `script_path` and runs gnuplot (found in PATH) on it, output in
// `log_path`; retries with the png terminal if pngcairo is missing. Errors: gnuplot not
// installed, the script cannot be written, gnuplot failed (the end of its log).
[[nodiscard]] Status plot_balloon_png(const BalloonPlotSpec& spec, const std::string& script_path,
                                      const std::string& log_path);

// `name` looked up in $PATH like a shell does; "" when absent.
[[nodiscard]] std::string find_in_path(const std::string& name);

}  // namespace tide::vmm::bench
