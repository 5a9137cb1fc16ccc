#include "vmm/bench/balloon_plot.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "guestmm/base/log.hpp"
#include "vmm/bench/child_process.hpp"

namespace tide::vmm::bench {
namespace {

// A gnuplot double-quoted string.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// `using` column expression: the column's value on the panel's rows, NaN elsewhere
// (gnuplot skips those points).
std::string column_for(const BalloonPlotPanel& p, int column) {
  return log::strf("($3/1000.0):((strcol(1) eq %s && $2 == %zu) ? $%d : NaN)", quoted(p.vmm).c_str(), p.run, column);
}

}  // namespace

std::string find_in_path(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::string path = env ? env : "/usr/local/bin:/usr/bin:/bin";
  size_t pos = 0;
  for (;;) {
    const size_t colon = path.find(':', pos);
    std::string dir = path.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) return {};
    pos = colon + 1;
  }
}

std::string balloon_gnuplot_script(const BalloonPlotSpec& spec, const std::string& terminal) {
  const size_t n = spec.panels.empty() ? 1 : spec.panels.size();
  std::string s;
  s += "# tide bench balloon: balloon target, actual and host memory over time (gnuplot THIS_FILE)\n";
  // noenhanced: names such as kvm_pvm are text, not subscripts.
  s += log::strf("set terminal %s noenhanced size 1200,%zu font \"sans,10\"\n", terminal.c_str(), 80 + 380 * n);
  s += "set output " + quoted(spec.png_path) + "\n";
  s += "set datafile separator \",\"\n";
  s += log::strf("set multiplot layout %zu,1 title %s font \",13\"\n", n, quoted(spec.title).c_str());
  s += log::strf("set xrange [0:%.3f]\nset yrange [0:%.1f]\n", spec.t_max_s, spec.y_max_mib);
  s += "set xlabel \"time (s)\"\nset ylabel \"MiB\"\nset grid\nset key outside right top\n";
  const std::string data = quoted(spec.csv_path);
  for (const auto& p : spec.panels) {
    s += "set title " + quoted(p.title) + "\n";
    s += "plot " + data + " skip 1 using " + column_for(p, 5) +
         " with steps dt 2 lw 2 lc rgb \"#444444\" title \"balloon target\", \\\n";
    s += "     " + data + " skip 1 using " + column_for(p, 6) +
         " with lines lw 2 lc rgb \"#1f77b4\" title \"balloon actual\", \\\n";
    s += "     " + data + " skip 1 using " + column_for(p, 7) +
         " with lines lw 2 lc rgb \"#d62728\" title \"host resident\"";
    if (p.pool_free) {
      s += ", \\\n     " + data + " skip 1 using " + column_for(p, 8) +
           " with lines lw 1 lc rgb \"#2ca02c\" title \"pool free\"";
    }
    s += "\n";
  }
  s += "unset multiplot\n";
  return s;
}

Status plot_balloon_png(const BalloonPlotSpec& spec, const std::string& script_path, const std::string& log_path) {
  const std::string gnuplot = find_in_path("gnuplot");
  if (gnuplot.empty()) {
    return make_error(std::errc::no_such_file_or_directory, "gnuplot not found in PATH (apt-get install gnuplot-nox)");
  }
  for (const char* terminal : {"pngcairo", "png"}) {
    {
      std::ofstream f(script_path, std::ios::trunc);
      f << balloon_gnuplot_script(spec, terminal);
      if (!f.flush()) return make_error(std::errc::io_error, "write " + script_path);
    }
    TIDE_TRY_ASSIGN(child, ChildProcess::spawn({gnuplot, script_path}, log_path));
    auto status = child.wait_for(std::chrono::seconds(60));
    if (!status) {
      child.kill_and_reap();
      return make_error(std::errc::timed_out, "gnuplot " + script_path + " did not finish within 60 s");
    }
    if (*status == 0) return ok();
    const std::string log_text = file_tail(log_path);
    // Builds without cairo have no pngcairo; the png terminal (libgd) draws the same plot.
    if (std::string(terminal) == "pngcairo" && log_text.find("terminal") != std::string::npos) continue;
    return make_error(std::errc::io_error, log::strf("gnuplot %s failed (status %d): %s", script_path.c_str(), *status,
                                                     log_text.c_str()));
  }
  return make_error(std::errc::io_error, "gnuplot has neither the pngcairo nor the png terminal");
}

}  // namespace tide::vmm::bench
