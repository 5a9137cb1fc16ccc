#include "vmm/bench/balloon_experiment.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "guestmm/base/log.hpp"

namespace tide::vmm::bench {
namespace {

class SteadyClock final : public ExperimentClock {
 public:
  double now_ms() override {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  void sleep_ms(double ms) override {
    if (ms > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
  }
};

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

void log_step(const BalloonRun& run, size_t nr_steps, const BalloonStepResult& r) {
  std::string line = log::strf("%s step %zu/%zu %s to %g%% (balloon %.0f -> %.0f MiB): ", run.vmm.c_str(), r.index,
                               nr_steps, step_kind_name(r.step.kind()), r.step.guest_percent, mib(r.step.from_bytes),
                               mib(r.step.balloon_bytes));
  if (r.reach_ms) line += log::strf("reached in %.1f ms", *r.reach_ms);
  else if (r.timed_out) line += log::strf("target not reached in %.0f ms", r.end_ms - r.start_ms);
  else line += log::strf("interrupted after %.0f ms", r.end_ms - r.start_ms);
  line += log::strf(", host %.1f -> %.1f MiB", mib(r.host_start_bytes), mib(r.host_end_bytes));
  if (r.released_fraction) {
    const double p = *r.released_fraction * 100;
    line += log::strf(", released within the window %.1f%%", p > -0.05 && p < 0.05 ? 0.0 : p);
  }
  if (r.timed_out && r.reach_ms) line += " (host memory never settled: timed out)";
  if (r.timed_out) log::warn("%s", line.c_str());
  else log::info("%s", line.c_str());
}

}  // namespace

ExperimentClock& steady_experiment_clock() {
  static SteadyClock clock;
  return clock;
}

BalloonHeadline balloon_headline(const BalloonRun& run) {
  BalloonHeadline h;
  double inflate_ms = 0;
  bool all_reached = true;
  int64_t released = 0;
  for (const auto& s : run.steps) {
    if (s.step.kind() != StepKind::inflate) break;
    ++h.descent_steps;
    h.to_percent = s.step.guest_percent;
    h.inflated_bytes += s.step.balloon_bytes - s.step.from_bytes;
    if (s.timed_out) h.timed_out = true;
    if (s.reach_ms) {
      inflate_ms += *s.reach_ms;
      released += s.host_drop_bytes();
    } else {
      all_reached = false;
    }
  }
  if (h.descent_steps > 0 && all_reached) {
    h.inflate_ms = inflate_ms;
    h.released_bytes = released;
    h.released_fraction = static_cast<double>(released) / static_cast<double>(h.inflated_bytes);
  }
  return h;
}

Result<BalloonRun> run_balloon_experiment(BalloonSubject& subject, const BalloonSubjectConfig& config,
                                          const BalloonSchedule& schedule, const BalloonTiming& timing,
                                          ExperimentClock& clock) {
  BalloonRun run;
  run.memory_bytes = schedule.memory_bytes;
  run.vmm = subject.name();
  if (auto st = subject.start(config); !st) {
    subject.stop();
    // Subjects name themselves in their errors; others get their name put before them.
    if (st.error().context.rfind(run.vmm + ":", 0) == 0) return st.error();
    return prefixed(st.error(), run.vmm);
  }
  run.accel = subject.accel();
  const double t0 = clock.now_ms();
  double last_sample_ms = 0;
  auto take = [&](size_t step) -> Result<BalloonSample> {
    auto s = subject.sample();
    if (!s) return prefixed(s.error(), "sample");
    last_sample_ms = clock.now_ms() - t0;
    run.points.push_back(BalloonPoint{last_sample_ms, step, *s});
    return *s;
  };

  // The baseline (step 0): a guest just booted may still be giving memory back (free
  // page reporting), so the first step waits until host memory is at rest, as every
  // later step starts from the previous one's rest.
  BalloonStepTracker baseline(0, BalloonStep{}, 0, 0, timing);
  uint64_t host_last = 0;
  for (;;) {
    auto s = take(0);
    if (!s) {
      run.aborted = prefixed(s.error(), "baseline").message();
      log::error("%s: run ended early: %s", run.vmm.c_str(), run.aborted.c_str());
      subject.stop();
      return run;
    }
    host_last = s->host_bytes;
    if (baseline.observe(last_sample_ms, *s)) break;
    clock.sleep_ms(last_sample_ms + timing.poll_ms - (clock.now_ms() - t0));
  }
  if (baseline.result().timed_out) {
    log::warn("%s: balloon not empty or host memory still moving after %.0f ms; starting the schedule anyway",
              run.vmm.c_str(), last_sample_ms);
  }
  for (size_t i = 0; i < schedule.steps.size() && run.aborted.empty(); ++i) {
    const BalloonStep& step = schedule.steps[i];
    const double start_ms = clock.now_ms() - t0;
    BalloonStepTracker tracker(i + 1, step, start_ms, host_last, timing);
    if (auto st = subject.set_target(step.balloon_bytes); !st) {
      run.aborted = prefixed(st.error(), log::strf("step %zu: set target", i + 1)).message();
      break;
    }
    for (;;) {
      auto s = take(i + 1);
      if (!s) {
        run.aborted = prefixed(s.error(), log::strf("step %zu", i + 1)).message();
        break;
      }
      host_last = s->host_bytes;
      if (tracker.observe(last_sample_ms, *s)) break;
      // Ticks from the last sample, so a slow sample does not pile up behind it.
      clock.sleep_ms(last_sample_ms + timing.poll_ms - (clock.now_ms() - t0));
    }
    run.steps.push_back(tracker.result());
    log_step(run, schedule.steps.size(), run.steps.back());
  }
  if (!run.aborted.empty()) log::error("%s: run ended early: %s", run.vmm.c_str(), run.aborted.c_str());
  run.inflate_cost = subject.inflate_cost();
  subject.stop();
  return run;
}

}  // namespace tide::vmm::bench
