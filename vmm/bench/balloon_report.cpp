#include "vmm/bench/balloon_report.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "guestmm/base/log.hpp"
#include "vmm/bench/balloon_plot.hpp"

namespace tide::vmm::bench {
namespace {

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }
double mib_signed(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

const char* step_status(const BalloonStepResult& s) {
  return s.settled ? "settled" : s.timed_out ? "timeout" : "aborted";
}

std::string opt(const std::optional<double>& v, const char* fmt) { return v ? log::strf(fmt, *v) : std::string(); }

// The VMMs in the order they first appear.
std::vector<std::string> vmms_of(const std::vector<BalloonRun>& runs) {
  std::vector<std::string> out;
  for (const auto& r : runs) {
    if (std::find(out.begin(), out.end(), r.vmm) == out.end()) out.push_back(r.vmm);
  }
  return out;
}

std::optional<double> median(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string host_meaning(const std::string& vmm) {
  if (vmm == "qemu") return "host = QEMU's RSS (the guest's resident pages plus QEMU's own 30-40 MiB)";
  if (vmm == "tide") return "host = guest memory resident in tide's pool";
  return "host = the VMM's host memory for the guest";
}

struct VmmHeadline {
  std::optional<double> inflate_ms, released;  // medians over the runs that have them
  size_t runs = 0, complete = 0;
};

VmmHeadline vmm_headline(const std::vector<BalloonRun>& runs, const std::string& vmm) {
  std::vector<double> ms, rel;
  VmmHeadline h;
  for (const auto& r : runs) {
    if (r.vmm != vmm) continue;
    ++h.runs;
    const BalloonHeadline b = balloon_headline(r);
    if (b.inflate_ms && b.released_fraction) {
      ++h.complete;
      ms.push_back(*b.inflate_ms);
      rel.push_back(*b.released_fraction);
    }
  }
  // A run that never reached a target has no time: a median of the others would hide it.
  if (h.complete == h.runs) {
    h.inflate_ms = median(ms);
    h.released = median(rel);
  }
  return h;
}

std::string rstrip(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// One decimal, without the "-0.0" of a tiny negative.
std::string percent(double fraction) {
  const double p = fraction * 100;
  return log::strf("%.1f%%", p > -0.05 && p < 0.05 ? 0.0 : p);
}

// The first line of a message that may carry log tails after it (those were logged).
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

std::string format_samples_csv(const std::vector<BalloonRun>& runs) {
  std::string out = "vmm,run,t_ms,step,target_mib,actual_mib,host_mib,pool_free_mib\n";
  for (const auto& r : runs) {
    for (const auto& p : r.points) {
      out += log::strf("%s,%zu,%.3f,%zu,%.3f,%.3f,%.3f,%.3f\n", r.vmm.c_str(), r.run, p.t_ms, p.step,
                       mib(p.sample.target_bytes), mib(p.sample.actual_bytes), mib(p.sample.host_bytes),
                       mib(p.sample.pool_free_bytes));
    }
  }
  return out;
}

std::string format_steps_csv(const std::vector<BalloonRun>& runs) {
  std::string out =
      "vmm,run,step,kind,guest_percent,from_mib,target_mib,start_ms,reach_ms,end_ms,status,"
      "host_start_mib,host_reach_mib,host_end_mib,host_window_mib,released_fraction\n";
  for (const auto& r : runs) {
    for (const auto& s : r.steps) {
      const bool inflate_reached = s.step.kind() == StepKind::inflate && s.reach_ms;
      out += log::strf("%s,%zu,%zu,%s,%g,%.3f,%.3f,%.3f,%s,%.3f,%s,%.3f,%s,%.3f,%s,%s\n", r.vmm.c_str(), r.run, s.index,
                       step_kind_name(s.step.kind()), s.step.guest_percent, mib(s.step.from_bytes),
                       mib(s.step.balloon_bytes), s.start_ms, opt(s.reach_ms, "%.3f").c_str(), s.end_ms,
                       step_status(s), mib(s.host_start_bytes),
                       s.reach_ms ? log::strf("%.3f", mib(s.host_reach_bytes)).c_str() : "", mib(s.host_end_bytes),
                       inflate_reached ? log::strf("%.3f", mib(s.host_window_bytes)).c_str() : "",
                       opt(s.released_fraction, "%.4f").c_str());
    }
  }
  return out;
}

std::string format_balloon_summary(const std::vector<BalloonRun>& runs, const BalloonReportInfo& info) {
  std::string out = log::strf("balloon experiment: %.0f MiB guest, schedule %s (%% of RAM the guest keeps)\n",
                              mib(info.memory_bytes), info.schedule.c_str());
  const auto vmms = vmms_of(runs);
  for (const auto& v : vmms) {
    std::string accel;
    for (const auto& r : runs) {
      if (r.vmm == v && !r.accel.empty()) accel = r.accel;
    }
    out += log::strf("  %s: %s, %s\n", v.c_str(), accel.empty() ? "?" : accel.c_str(), host_meaning(v).c_str());
  }
  const double window_s = info.release_window_ms / 1000.0;
  out += "\n" + rstrip(log::strf("%-5s %3s %4s %-7s %6s %17s %9s %-8s %10s %10s %10s %9s", "vmm", "run", "step", "kind",
                                  "guest", "balloon MiB", "reach ms", "status", "host start", "at reach", "at end",
                                  "released")) +
         "\n";
  for (const auto& r : runs) {
    for (const auto& s : r.steps) {
      const std::string balloon = log::strf("%.0f -> %.0f", mib(s.step.from_bytes), mib(s.step.balloon_bytes));
      out += rstrip(log::strf("%-5s %3zu %4zu %-7s %5g%% %17s %9s %-8s %10.1f %10s %10.1f %9s", r.vmm.c_str(), r.run,
                              s.index, step_kind_name(s.step.kind()), s.step.guest_percent, balloon.c_str(),
                              s.reach_ms ? log::strf("%.1f", *s.reach_ms).c_str() : "never", step_status(s),
                              mib(s.host_start_bytes),
                              s.reach_ms ? log::strf("%.1f", mib(s.host_reach_bytes)).c_str() : "-",
                              mib(s.host_end_bytes), s.released_fraction ? percent(*s.released_fraction).c_str() : "")) +
             "\n";
    }
    if (!r.aborted.empty()) {
      out += log::strf("%-5s %3zu      run ended early: %s\n", r.vmm.c_str(), r.run, first_line(r.aborted).c_str());
    }
  }
  out += log::strf(
      "(host MiB: host memory before the target was set, when the balloon reached it, at the step's end;\n"
      " released: host drop within %g s of reaching the target / balloon growth)\n",
      window_s);

  // The headline: the descent from the start to the smallest guest.
  BalloonHeadline shape;
  for (const auto& r : runs) {
    shape = balloon_headline(r);
    if (shape.descent_steps > 0) break;
  }
  if (shape.descent_steps == 0) {
    out += "\nno headline: the schedule does not start with an inflate\n";
    return out;
  }
  out += log::strf(
      "\ndescent %g%% -> %g%% of RAM: %zu inflate step%s; inflate time = the sum of their times to reach the target;\n"
      "released = host memory dropped within %g s of each reach / balloon growth (%.0f MiB)\n",
      shape.from_percent, shape.to_percent, shape.descent_steps, shape.descent_steps == 1 ? "" : "s", window_s,
      mib(shape.inflated_bytes));
  out += log::strf("%-5s %3s %12s %10s %s\n", "vmm", "run", "inflate ms", "released", "MiB released");
  for (const auto& r : runs) {
    const BalloonHeadline h = balloon_headline(r);
    out += log::strf("%-5s %3zu %12s %10s %s\n", r.vmm.c_str(), r.run,
                     h.inflate_ms ? log::strf("%.1f", *h.inflate_ms).c_str() : "timed out",
                     h.released_fraction ? percent(*h.released_fraction).c_str() : "-",
                     h.released_fraction
                         ? log::strf("%.1f of %.0f", mib_signed(h.released_bytes), mib(h.inflated_bytes)).c_str()
                         : "-");
  }
  for (const auto& r : runs) {
    if (r.inflate_cost) {
      out += log::strf(
          "%s run %zu: host cost per inflated page %.1f ns of CPU, %.1f ns elapsed (its device's counters: parse, "
          "checks, release)\n",
          r.vmm.c_str(), r.run, r.inflate_cost->cpu_ns_per_page, r.inflate_cost->wall_ns_per_page);
    }
  }
  // The released share is bounded by what was resident: pages the guest never touched
  // were never backed, pages it reported free were given back already (measured: QEMU
  // went from 1 GiB to 40 MiB after `memtouch 960M` once serve reported), and
  // ballooning either frees nothing.
  bool too_little_resident = false;
  for (const auto& v : vmms) {
    for (const auto& r : runs) {
      if (r.vmm != v || r.steps.empty()) continue;
      const BalloonHeadline h = balloon_headline(r);
      if (r.steps.front().host_start_bytes < h.inflated_bytes) {
        out += log::strf(
            "note: %s held %.1f MiB of host memory before the descent, less than the %.0f MiB ballooned: guest\n"
            "  pages never touched, or already reported free, are not resident; ballooning them releases nothing\n",
            v.c_str(), mib(r.steps.front().host_start_bytes), mib(h.inflated_bytes));
        too_little_resident = true;
      }
      break;
    }
  }
  size_t max_runs = 0;
  for (const auto& r : runs) max_runs = std::max(max_runs, r.run);
  std::vector<std::pair<std::string, VmmHeadline>> heads;
  for (const auto& v : vmms) heads.emplace_back(v, vmm_headline(runs, v));
  if (max_runs > 1) {
    for (const auto& [v, h] : heads) {
      out += log::strf("%-5s %3s %12s %10s\n", v.c_str(), "med", h.inflate_ms ? log::strf("%.1f", *h.inflate_ms).c_str() : "timed out",
                       h.released ? percent(*h.released).c_str() : "-");
    }
  }
  const VmmHeadline* tide = nullptr;
  const VmmHeadline* qemu = nullptr;
  for (const auto& [v, h] : heads) {
    if (v == "tide") tide = &h;
    if (v == "qemu") qemu = &h;
  }
  if (tide && qemu) {
    std::string line = "tide/qemu: inflate time ";
    line += tide->inflate_ms && qemu->inflate_ms && *qemu->inflate_ms > 0
                ? log::strf("%.3f", *tide->inflate_ms / *qemu->inflate_ms)
                : std::string("n/a (a descent step never reached its target)");
    line += ", released fraction ";
    if (too_little_resident) line += "n/a (too little was resident, see the notes)";
    else if (tide->released && qemu->released && *qemu->released > 0) line += log::strf("%.2f", *tide->released / *qemu->released);
    else line += "n/a";
    if (max_runs > 1) line += " (medians over the runs)";
    out += line + "\n";
  }
  return out;
}

Result<BalloonReportFiles> write_balloon_report(const std::string& dir, const std::vector<BalloonRun>& runs,
                                                const BalloonReportInfo& info) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ec, "create " + dir);
  const fs::path d(dir);
  BalloonReportFiles files{(d / "balloon.csv").string(), (d / "balloon-steps.csv").string(),
                           (d / "balloon.png").string(), (d / "balloon-summary.txt").string()};
  auto write = [](const std::string& path, const std::string& text) -> Status {
    std::ofstream f(path, std::ios::trunc | std::ios::binary);
    f << text;
    if (!f.flush()) return make_error(std::errc::io_error, "write " + path);
    return ok();
  };
  TIDE_TRY(write(files.samples_csv, format_samples_csv(runs)));
  TIDE_TRY(write(files.steps_csv, format_steps_csv(runs)));
  TIDE_TRY(write(files.summary, format_balloon_summary(runs, info)));

  BalloonPlotSpec spec;
  spec.csv_path = fs::absolute(files.samples_csv, ec).string();
  spec.png_path = fs::absolute(files.png, ec).string();
  double t_max_ms = 1000, y_max = mib(info.memory_bytes);
  for (const auto& v : vmms_of(runs)) {
    const BalloonRun* first = nullptr;
    for (const auto& r : runs) {
      if (r.vmm == v && (!first || r.run < first->run)) first = &r;
    }
    bool pool = false;
    for (const auto& p : first->points) {
      t_max_ms = std::max(t_max_ms, p.t_ms);
      y_max = std::max({y_max, mib(p.sample.host_bytes), mib(p.sample.target_bytes), mib(p.sample.actual_bytes),
                        mib(p.sample.pool_free_bytes)});
      pool = pool || p.sample.pool_free_bytes > 0;
    }
    spec.panels.push_back({v, first->run, v + " (" + (first->accel.empty() ? "?" : first->accel) + "): " + host_meaning(v), pool});
  }
  spec.title = log::strf("virtio-balloon, %.0f MiB guest (tideguest serve), schedule %s (%% of RAM the guest keeps)",
                         mib(info.memory_bytes), info.schedule.c_str());
  spec.t_max_s = t_max_ms / 1000.0 * 1.02;
  spec.y_max_mib = y_max * 1.08;
  if (auto st = plot_balloon_png(spec, (d / "balloon.gp").string(), (d / "gnuplot.log").string()); !st) {
    return prefixed(st.error(), "plot (the CSVs and the summary are written)");
  }
  return files;
}

}  // namespace tide::vmm::bench
