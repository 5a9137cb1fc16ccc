// Unit: the balloon experiment's runner on a fake subject and a fake clock: the series it
// records, the step table, timeouts kept in the results, failures, and the headline.
#include <gtest/gtest.h>

#include <algorithm>

#include "vmm/bench/balloon_experiment.hpp"

namespace tide::vmm::bench {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

class FakeClock final : public ExperimentClock {
 public:
  double now_ms() override { return now_; }
  void sleep_ms(double ms) override { now_ += std::max(ms, 0.0); }
  void advance(double ms) { now_ += ms; }

 private:
  double now_ = 5000;  // any origin: the run's times start at its first sample
};

// A guest whose balloon follows the target at `mib_per_ms`, up to `max_balloon` (a
// guest that cannot give more), on a host that gets back `released_share` of each
// ballooned page at once. Each sample costs `sample_cost_ms` of fake time.
class FakeSubject final : public BalloonSubject {
 public:
  explicit FakeSubject(FakeClock& clock) : clock_(clock) {}
  std::string name() const override { return "fake"; }
  std::string accel() const override { return started_ ? "kvm" : ""; }
  Status start(const BalloonSubjectConfig& config) override {
    ++starts;
    if (fail_start) return make_error(std::errc::no_such_device, "no balloon");
    memory_ = config.memory_bytes;
    started_ = true;
    last_ms_ = started_ms_ = clock_.now_ms();
    return ok();
  }
  Status set_target(uint64_t balloon_bytes) override {
    targets.push_back(balloon_bytes);
    advance();
    target_ = balloon_bytes;
    return ok();
  }
  Result<BalloonSample> sample() override {
    clock_.advance(sample_cost_ms);
    if (++samples == fail_at_sample) return make_error(std::errc::broken_pipe, "VMM gone");
    advance();
    BalloonSample s;
    s.target_bytes = target_;
    s.actual_bytes = actual_;
    s.host_bytes = memory_ - static_cast<uint64_t>(static_cast<double>(actual_) * released_share);
    if (clock_.now_ms() < started_ms_ + reporting_ms) s.host_bytes += reporting_bytes;
    s.pool_free_bytes = memory_ - s.host_bytes;
    return s;
  }
  void stop() override {
    ++stops;
    started_ = false;
  }

  double mib_per_ms = 1;
  uint64_t max_balloon = UINT64_MAX;
  double released_share = 1.0;
  double sample_cost_ms = 1;
  // Host memory the guest still holds after boot and gives back at reporting_ms.
  uint64_t reporting_bytes = 0;
  double reporting_ms = 0;
  bool fail_start = false;
  int fail_at_sample = -1;
  int starts = 0, stops = 0, samples = 0;
  std::vector<uint64_t> targets;

 private:
  void advance() {
    const double now = clock_.now_ms();
    const auto budget = static_cast<uint64_t>((now - last_ms_) * mib_per_ms * static_cast<double>(kMiB));
    last_ms_ = now;
    const uint64_t goal = std::min(target_, max_balloon);
    if (actual_ < goal) actual_ += std::min(goal - actual_, budget);
    else actual_ -= std::min(actual_ - goal, budget);
  }
  FakeClock& clock_;
  bool started_ = false;
  uint64_t memory_ = 0, target_ = 0, actual_ = 0;
  double last_ms_ = 0, started_ms_ = 0;
};

BalloonSchedule schedule(const char* text) {
  auto s = parse_balloon_schedule(text, kGiB);
  EXPECT_TRUE(s) << text;
  return *s;
}

BalloonSubjectConfig config() {
  BalloonSubjectConfig c;
  c.memory_bytes = kGiB;
  return c;
}

TEST(BalloonExperiment, RunsTheScheduleAndRecordsEveryStep) {
  FakeClock clock;
  FakeSubject subject(clock);
  BalloonTiming timing;  // 5 ms polls, 300 ms settle, 1 s window
  auto run = run_balloon_experiment(subject, config(), schedule(kDefaultSchedule), timing, clock);
  ASSERT_TRUE(run) << run.error().message();
  EXPECT_EQ(subject.starts, 1);
  EXPECT_EQ(subject.stops, 1);
  EXPECT_EQ(run->vmm, "fake");
  EXPECT_EQ(run->accel, "kvm");
  EXPECT_EQ(run->memory_bytes, kGiB);
  EXPECT_TRUE(run->aborted.empty());
  EXPECT_EQ(subject.targets, (std::vector<uint64_t>{256 * kMiB, 512 * kMiB, 768 * kMiB, 512 * kMiB, 256 * kMiB, 0}));

  ASSERT_FALSE(run->points.empty());
  EXPECT_EQ(run->points.front().step, 0u);
  EXPECT_DOUBLE_EQ(run->points.front().t_ms, 1);  // one fake sample's cost after the start
  for (size_t i = 1; i < run->points.size(); ++i) {
    EXPECT_GE(run->points[i].step, run->points[i - 1].step) << i;
    EXPECT_GT(run->points[i].t_ms, run->points[i - 1].t_ms) << i;
    // Within a step, polls are 5 ms apart (a new step samples at once).
    if (run->points[i].step == run->points[i - 1].step) {
      EXPECT_GE(run->points[i].t_ms, run->points[i - 1].t_ms + 5) << i;
    }
  }
  EXPECT_EQ(run->points.back().step, 6u);

  ASSERT_EQ(run->steps.size(), 6u);
  for (const auto& s : run->steps) {
    EXPECT_TRUE(s.settled) << s.index;
    ASSERT_TRUE(s.reach_ms) << s.index;
    // 256 MiB at 1 MiB/ms: the target comes within one poll after 256 ms.
    EXPECT_GE(*s.reach_ms, 256) << s.index;
    EXPECT_LE(*s.reach_ms, 256 + 7) << s.index;
    if (s.step.kind() == StepKind::inflate) {
      ASSERT_TRUE(s.released_fraction);
      EXPECT_DOUBLE_EQ(*s.released_fraction, 1.0);
      EXPECT_GE(s.end_ms - s.start_ms, *s.reach_ms + timing.release_window_ms);
    } else {
      EXPECT_FALSE(s.released_fraction);
    }
  }
  // Each step starts where the previous one ended, on the host figure it ended with.
  for (size_t i = 1; i < run->steps.size(); ++i) {
    EXPECT_EQ(run->steps[i].host_start_bytes, run->steps[i - 1].host_end_bytes);
    EXPECT_GE(run->steps[i].start_ms, run->steps[i - 1].end_ms);
  }

  const BalloonHeadline h = balloon_headline(*run);
  EXPECT_EQ(h.descent_steps, 3u);
  EXPECT_DOUBLE_EQ(h.from_percent, 100);
  EXPECT_DOUBLE_EQ(h.to_percent, 25);
  ASSERT_TRUE(h.inflate_ms);
  EXPECT_DOUBLE_EQ(*h.inflate_ms, *run->steps[0].reach_ms + *run->steps[1].reach_ms + *run->steps[2].reach_ms);
  EXPECT_EQ(h.inflated_bytes, 768 * kMiB);
  EXPECT_EQ(h.released_bytes, static_cast<int64_t>(768 * kMiB));
  ASSERT_TRUE(h.released_fraction);
  EXPECT_DOUBLE_EQ(*h.released_fraction, 1.0);
  EXPECT_FALSE(h.timed_out);
}

TEST(BalloonExperiment, ATimedOutStepIsRecordedAndTheRunGoesOn) {
  FakeClock clock;
  FakeSubject subject(clock);
  subject.max_balloon = 600 * kMiB;  // the guest cannot go below 424 MiB
  subject.released_share = 0.5;
  BalloonTiming timing;
  timing.step_timeout_ms = 2000;
  auto run = run_balloon_experiment(subject, config(), schedule("75,50,25,50"), timing, clock);
  ASSERT_TRUE(run);
  ASSERT_EQ(run->steps.size(), 4u);
  EXPECT_TRUE(run->steps[1].settled);
  const auto& stuck = run->steps[2];
  EXPECT_TRUE(stuck.timed_out);
  EXPECT_FALSE(stuck.reach_ms);
  EXPECT_GE(stuck.end_ms - stuck.start_ms, 2000);
  EXPECT_LT(stuck.end_ms - stuck.start_ms, 2000 + 10);
  EXPECT_TRUE(run->steps[3].settled);  // back to 512 MiB works

  ASSERT_TRUE(run->steps[0].released_fraction);
  EXPECT_NEAR(*run->steps[0].released_fraction, 0.5, 1e-6);
  const BalloonHeadline h = balloon_headline(*run);
  EXPECT_EQ(h.descent_steps, 3u);
  EXPECT_TRUE(h.timed_out);
  EXPECT_FALSE(h.inflate_ms);  // never hidden behind the steps that did reach
  EXPECT_FALSE(h.released_fraction);
}

TEST(BalloonExperiment, TheFirstStepWaitsUntilHostMemoryIsAtRest) {
  FakeClock clock;
  FakeSubject subject(clock);
  subject.reporting_bytes = 900 * kMiB;  // given back 200 ms after boot
  subject.reporting_ms = 200;
  auto run = run_balloon_experiment(subject, config(), schedule("75"), BalloonTiming{}, clock);
  ASSERT_TRUE(run);
  ASSERT_EQ(run->steps.size(), 1u);
  // The step starts from rest: the memory given back before it is not counted as released.
  EXPECT_EQ(run->steps[0].host_start_bytes, kGiB);
  EXPECT_GE(run->steps[0].start_ms, 200 + 300);
  ASSERT_TRUE(run->steps[0].released_fraction);
  EXPECT_DOUBLE_EQ(*run->steps[0].released_fraction, 1.0);
  EXPECT_EQ(run->points.front().sample.host_bytes, kGiB + 900 * kMiB);
  for (const auto& p : run->points) {
    if (p.t_ms < run->steps[0].start_ms) {
      EXPECT_EQ(p.step, 0u);
    }
  }
}

TEST(BalloonExperiment, ABaselineFailureEndsTheRunBeforeAnyTarget) {
  FakeClock clock;
  FakeSubject subject(clock);
  subject.fail_at_sample = 3;
  auto run = run_balloon_experiment(subject, config(), schedule("75"), BalloonTiming{}, clock);
  ASSERT_TRUE(run);
  EXPECT_NE(run->aborted.find("baseline: sample: VMM gone"), std::string::npos) << run->aborted;
  EXPECT_EQ(run->points.size(), 2u);
  EXPECT_TRUE(run->steps.empty());
  EXPECT_TRUE(subject.targets.empty());
  EXPECT_EQ(subject.stops, 1);
}

TEST(BalloonExperiment, AFailedStartIsAnErrorAndStopsTheSubject) {
  FakeClock clock;
  FakeSubject subject(clock);
  subject.fail_start = true;
  auto run = run_balloon_experiment(subject, config(), schedule("50"), BalloonTiming{}, clock);
  ASSERT_FALSE(run);
  EXPECT_NE(run.error().message().find("fake: no balloon"), std::string::npos) << run.error().message();
  EXPECT_EQ(subject.stops, 1);
  EXPECT_TRUE(subject.targets.empty());
}

TEST(BalloonExperiment, ASampleFailureEndsTheRunWithWhatWasMeasured) {
  FakeClock clock;
  FakeSubject subject(clock);
  // The baseline takes 51 samples (300 ms quiet at 6 ms a sample); the first step
  // needs 43 to reach its target: sample 70 is in the middle of it.
  subject.fail_at_sample = 70;
  auto run = run_balloon_experiment(subject, config(), schedule("75,50"), BalloonTiming{}, clock);
  ASSERT_TRUE(run);
  EXPECT_NE(run->aborted.find("step 1: sample: VMM gone"), std::string::npos) << run->aborted;
  EXPECT_EQ(run->points.size(), 69u);
  EXPECT_EQ(run->points.back().step, 1u);
  ASSERT_EQ(run->steps.size(), 1u);  // the interrupted step, neither settled nor timed out
  EXPECT_FALSE(run->steps[0].settled);
  EXPECT_FALSE(run->steps[0].timed_out);
  EXPECT_EQ(subject.targets.size(), 1u);
  EXPECT_EQ(subject.stops, 1);
}

TEST(BalloonExperiment, HeadlineOfAScheduleThatStartsWithADeflateIsEmpty) {
  BalloonRun run;
  BalloonStepResult hold;
  hold.step.guest_percent = 100;
  hold.reach_ms = 0;
  run.steps.push_back(hold);
  const BalloonHeadline h = balloon_headline(run);
  EXPECT_EQ(h.descent_steps, 0u);
  EXPECT_FALSE(h.inflate_ms);
}

}  // namespace
}  // namespace tide::vmm::bench
