#include "vmm/cli/bench_command.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "guestmm/base/log.hpp"
#include "vmm/bench/balloon_experiment.hpp"
#include "vmm/bench/balloon_report.hpp"
#include "vmm/bench/qemu_balloon_subject.hpp"
#include "vmm/bench/tide_balloon_subject.hpp"
#include "vmm/cli/args.hpp"
#include "vmm/cli/paths.hpp"
#include "vmm/cli/size.hpp"

namespace tide::vmm {

const char* const kBenchHelp =
    "usage: tide bench balloon [options]\n"
    "\n"
    "The balloon experiment: boots tideguest serving its virtio-balloon driver, walks the\n"
    "balloon through a schedule of targets and samples every 5 ms the balloon's target and\n"
    "actual size and the host memory behind the guest: under tide the guest memory resident\n"
    "in its pool, under QEMU (/usr/bin/qemu-system-x86_64, microvm) QEMU's RSS, which also\n"
    "holds QEMU's own 30-40 MiB. A step ends once the balloon is at its target and host\n"
    "memory has not moved for 300 ms (an inflate also waits 1 s after reaching it), or at\n"
    "the step timeout, which is recorded, not hidden.\n"
    "\n"
    "options:\n"
    "  --memory SIZE       guest RAM, e.g. 512M or 2G; a bare number is MiB (default 1G)\n"
    "  --schedule LIST     percent of RAM the guest keeps after each step (default\n"
    "                      100,75,50,25,50,75,100; the guest starts at 100)\n"
    "  --vmm tide|qemu     the VMM to measure (default tide)\n"
    "  --compare tide|qemu also measure this one, run after the first, on the same plot\n"
    "  --runs N            repeat the whole experiment N times, 1..100 (default 1); the\n"
    "                      summary gives medians, the plot the first run\n"
    "  --step-timeout S    seconds a step may take (default 30)\n"
    "  --touch P           before serving, the guest touches P percent of its RAM once\n"
    "                      and frees it, with free page reporting off, so the inflate\n"
    "                      has resident memory to give back (default 90; 0: none)\n"
    "  --stats-period S    seconds between the device's statistics requests, 0 for none\n"
    "                      (default 1)\n"
    "  --out DIR           where the results go (default ./balloon-bench)\n"
    "  --log-level L       debug, info, warn, error or off (default info; env TIDE_LOG)\n"
    "  --help              this text\n"
    "\n"
    "output: DIR/balloon.csv (one row per sample: vmm,run,t_ms,step,target_mib,actual_mib,\n"
    "host_mib,pool_free_mib), DIR/balloon-steps.csv (one row per step: time to reach the\n"
    "target, host memory at its start, at reach, 1 s after reach and at its end, the share\n"
    "of the balloon's growth the host got back within that second), DIR/balloon.png (plotted\n"
    "by gnuplot), DIR/balloon-summary.txt (also printed), and QEMU's logs. The headline is\n"
    "the descent: the inflate steps before the first deflate (full to 25% by default),\n"
    "their summed times to reach the target, and the share released within 1 s.\n"
    "tideguest is found next to tide or through TIDE_TIDEGUEST.\n"
    "\n"
    "exit status: 0 when every run finished its schedule (steps that timed out are part of\n"
    "the results); 1 with a one-line reason on any error, or when a run ended early (the\n"
    "outputs are still written).\n";

namespace {

int fail(const std::string& message) {
  log::error("%s", message.c_str());
  return 1;
}

std::unique_ptr<bench::BalloonSubject> make_subject(const std::string& vmm) {
  if (vmm == "qemu") return std::make_unique<bench::QemuBalloonSubject>();
  return bench::make_tide_balloon_subject();
}

// A number of seconds in [min, max]; false if `text` is not one.
bool parse_seconds(const std::string& text, double min, double max, double* out) {
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && *out >= min && *out <= max;
}

int balloon_command(const std::vector<std::string>& argv) {
  Args args("bench balloon",
            {"memory", "schedule", "vmm", "compare", "runs", "step-timeout", "stats-period", "out", "log-level", "touch"},
            {"help"});
  if (auto st = args.parse(argv); !st) return fail(st.error().message());
  if (args.has("help")) {
    std::fputs(kBenchHelp, stdout);
    return 0;
  }
  if (!args.positional().empty()) {
    return fail("unexpected argument '" + args.positional()[0] + "' (see tide bench --help)");
  }
  if (auto l = args.get("log-level")) {
    log::Level level;
    if (!log::parse_level(*l, &level)) return fail("bad log level '" + *l + "' (debug, info, warn, error, off)");
    log::set_level(level);
  }

  bench::BalloonSubjectConfig config;
  config.memory_bytes = uint64_t{1} << 30;
  if (auto m = args.get("memory")) {
    auto bytes = parse_size(*m);
    if (!bytes) return fail("--memory: " + bytes.error().message());
    if (*bytes < (uint64_t{16} << 20) || *bytes % (uint64_t{1} << 20) != 0) {
      return fail("--memory: '" + *m + "' must be a whole number of MiB, at least 16M");
    }
    config.memory_bytes = *bytes;
  }
  uint64_t touch = 90;
  if (auto t = args.get("touch")) {
    char* end = nullptr;
    touch = std::strtoull(t->c_str(), &end, 10);
    if (t->empty() || *end != '\0' || touch > 95) return fail("--touch: '" + *t + "' is not a percentage from 0 to 95");
  }
  if (touch > 0) {
    const uint64_t mib = config.memory_bytes / 100 * touch >> 20;
    config.guest_script = "memtouch " + std::to_string(mib) + "M seq 1; serve";
    config.guest_params = "tide.balloon_report_ms=0";
  }
  auto schedule = bench::parse_balloon_schedule(args.get("schedule").value_or(bench::kDefaultSchedule), config.memory_bytes);
  if (!schedule) return fail("--schedule: " + schedule.error().message());

  std::vector<std::string> vmms{args.get("vmm").value_or("tide")};
  if (vmms[0] != "tide" && vmms[0] != "qemu") return fail("--vmm: '" + vmms[0] + "' is not tide or qemu");
  if (auto c = args.get("compare")) {
    if (*c != "tide" && *c != "qemu") return fail("--compare: '" + *c + "' is not tide or qemu");
    if (*c == vmms[0]) return fail("--compare " + *c + ": that is the VMM measured already (--vmm " + vmms[0] + ")");
    vmms.push_back(*c);
  }
  size_t runs = 1;
  if (auto r = args.get("runs")) {
    char* end = nullptr;
    unsigned long n = std::strtoul(r->c_str(), &end, 10);
    if (r->empty() || *end != '\0' || n < 1 || n > 100) return fail("--runs: '" + *r + "' is not a number from 1 to 100");
    runs = n;
  }
  bench::BalloonTiming timing;
  if (auto t = args.get("step-timeout")) {
    double s = 0;
    if (!parse_seconds(*t, 0.1, 3600, &s)) return fail("--step-timeout: '" + *t + "' is not a number of seconds (0.1 to 3600)");
    timing.step_timeout_ms = s * 1000;
  }
  if (auto p = args.get("stats-period")) {
    double s = 0;
    if (!parse_seconds(*p, 0, 3600, &s) || s != static_cast<double>(static_cast<uint32_t>(s))) {
      return fail("--stats-period: '" + *p + "' is not a whole number of seconds (0 to 3600)");
    }
    config.stats_period_s = static_cast<uint32_t>(s);
  }
  const std::string out = args.get("out").value_or("./balloon-bench");
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return fail("--out: cannot create " + out + ": " + ec.message());
  config.workdir = std::filesystem::absolute(out, ec).string();
  config.tideguest = default_tideguest();
  if (config.tideguest.empty()) return fail("tideguest was not found next to tide (build it, or set TIDE_TIDEGUEST)");

  std::vector<bench::BalloonRun> results;
  std::string ended_early;
  for (size_t r = 1; r <= runs; ++r) {
    for (const auto& vmm : vmms) {
      log::info("run %zu/%zu: %s, %s guest, schedule %s", r, runs, vmm.c_str(), format_size(config.memory_bytes).c_str(),
                schedule->describe().c_str());
      auto subject = make_subject(vmm);
      auto run = bench::run_balloon_experiment(*subject, config, *schedule, timing);
      if (!run) return fail(run.error().message());
      run->run = r;
      if (!run->aborted.empty() && ended_early.empty()) {
        // Only the reason: the VMM's logs that may follow it were logged when it happened.
        ended_early = vmm + " run " + std::to_string(r) + ": " + run->aborted.substr(0, run->aborted.find('\n'));
      }
      results.push_back(std::move(*run));
    }
  }

  const bench::BalloonReportInfo info{schedule->describe(), config.memory_bytes, timing.release_window_ms};
  std::fputs(bench::format_balloon_summary(results, info).c_str(), stdout);
  std::fflush(stdout);
  auto files = bench::write_balloon_report(out, results, info);
  if (!files) return fail(files.error().message());
  std::printf("\nwritten: %s, %s, %s, %s\n", files->samples_csv.c_str(), files->steps_csv.c_str(), files->png.c_str(),
              files->summary.c_str());
  if (!ended_early.empty()) return fail("a run ended early (" + ended_early + ")");
  return 0;
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kBenchHelp, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "balloon") return balloon_command(rest);
  return fail("unknown experiment '" + args[0] + "' (tide bench balloon; see tide bench --help)");
}

}  // namespace tide::vmm
