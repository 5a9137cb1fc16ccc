// Unit: when a balloon step ends and what it measures (time to reach the target, host
// memory released within the window, settling, timeouts), on synthetic sample series.
#include <gtest/gtest.h>

#include <algorithm>

#include "vmm/bench/balloon_step_tracker.hpp"

namespace tide::vmm::bench {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

BalloonStep inflate_step(uint64_t from_mib, uint64_t to_mib) {
  BalloonStep s;
  s.from_bytes = from_mib * kMiB;
  s.balloon_bytes = to_mib * kMiB;
  s.guest_percent = 50;
  return s;
}

BalloonSample at(uint64_t actual_mib, uint64_t host_mib) {
  BalloonSample s;
  s.actual_bytes = actual_mib * kMiB;
  s.host_bytes = host_mib * kMiB;
  return s;
}

BalloonTiming timing() {
  BalloonTiming t;
  t.settle_ms = 300;
  t.settle_tolerance_bytes = kMiB;
  t.release_window_ms = 1000;
  t.step_timeout_ms = 30000;
  return t;
}

// Feeds `sample_at(t)` every `every_ms` from `from_ms` until the tracker is done or
// `until_ms`; returns the time of the last sample.
template <class F>
double feed(BalloonStepTracker& tracker, double from_ms, double until_ms, double every_ms, F sample_at) {
  double t = from_ms;
  for (; t <= until_ms; t += every_ms) {
    if (tracker.observe(t, sample_at(t))) break;
  }
  return t;
}

TEST(BalloonStepTracker, InflateReachesReleasesAndSettles) {
  // Step set at t=1000 ms; the balloon grows 0 -> 512 MiB by t=1200; host memory drops
  // by 400 MiB over the same time, then by 100 MiB more until t=1600, then stays.
  BalloonStepTracker tracker(1, inflate_step(0, 512), 1000, 1000 * kMiB, timing());
  const double end = feed(tracker, 1000, 10000, 10, [](double t) {
    const double f = std::min(1.0, (t - 1000) / 200);
    uint64_t host = 1000 - static_cast<uint64_t>(400 * f);
    if (t > 1200) host -= static_cast<uint64_t>(std::min(100.0, (t - 1200) / 4));
    return at(static_cast<uint64_t>(512 * f), host);
  });
  ASSERT_TRUE(tracker.done());
  const auto r = tracker.result();
  EXPECT_EQ(r.index, 1u);
  ASSERT_TRUE(r.reach_ms);
  EXPECT_DOUBLE_EQ(*r.reach_ms, 200);
  EXPECT_TRUE(r.settled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.host_start_bytes, 1000 * kMiB);
  EXPECT_EQ(r.host_reach_bytes, 600 * kMiB);
  EXPECT_EQ(r.host_window_bytes, 500 * kMiB);
  EXPECT_EQ(r.host_end_bytes, 500 * kMiB);
  EXPECT_EQ(r.host_drop_bytes(), static_cast<int64_t>(500 * kMiB));
  ASSERT_TRUE(r.released_fraction);
  EXPECT_NEAR(*r.released_fraction, 500.0 / 512.0, 1e-12);
  // An inflate lasts at least the release window after reach (t=1200 + 1000).
  EXPECT_DOUBLE_EQ(end, 2200);
  EXPECT_DOUBLE_EQ(r.end_ms, 2200);
  EXPECT_DOUBLE_EQ(r.start_ms, 1000);
}

TEST(BalloonStepTracker, OnlyReleasesWithinTheWindowCount) {
  // At target from the first sample; host memory then drops 2 MiB every 100 ms for 2 s:
  // only the first second's 20 MiB count.
  BalloonStepTracker tracker(2, inflate_step(256, 512), 0, 800 * kMiB, timing());
  feed(tracker, 0, 10000, 10, [](double t) {
    return at(512, 800 - 2 * std::min<uint64_t>(20, static_cast<uint64_t>(t / 100)));
  });
  const auto r = tracker.result();
  ASSERT_TRUE(r.reach_ms);
  EXPECT_DOUBLE_EQ(*r.reach_ms, 0);
  EXPECT_EQ(r.host_window_bytes, 780 * kMiB);
  ASSERT_TRUE(r.released_fraction);
  EXPECT_NEAR(*r.released_fraction, 20.0 / 256.0, 1e-12);
  // Settled 300 ms after the last move (t=2000), later than the window's end.
  EXPECT_TRUE(r.settled);
  EXPECT_DOUBLE_EQ(r.end_ms, 2300);
  EXPECT_EQ(r.host_end_bytes, 760 * kMiB);
}

TEST(BalloonStepTracker, HostGrowthGivesANegativeFraction) {
  BalloonStepTracker tracker(1, inflate_step(0, 100), 0, 200 * kMiB, timing());
  feed(tracker, 0, 10000, 10, [](double t) { return at(t >= 50 ? 100 : 0, 210); });
  const auto r = tracker.result();
  ASSERT_TRUE(r.released_fraction);
  EXPECT_DOUBLE_EQ(*r.released_fraction, -0.1);
}

TEST(BalloonStepTracker, TargetNeverReachedTimesOut) {
  BalloonTiming t = timing();
  t.step_timeout_ms = 5000;
  BalloonStepTracker tracker(3, inflate_step(0, 768), 100, 900 * kMiB, t);
  const double end = feed(tracker, 100, 100000, 10, [](double) { return at(700, 300); });
  ASSERT_TRUE(tracker.done());
  const auto r = tracker.result();
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.settled);
  EXPECT_FALSE(r.reach_ms);
  EXPECT_FALSE(r.released_fraction);  // no fraction without reaching the target
  EXPECT_DOUBLE_EQ(end, 5100);
  EXPECT_EQ(r.host_end_bytes, 300 * kMiB);
}

TEST(BalloonStepTracker, ReachedButHostNeverSettlesTimesOutKeepingTheReachTime) {
  BalloonTiming t = timing();
  t.step_timeout_ms = 3000;
  BalloonStepTracker tracker(1, inflate_step(0, 256), 0, 900 * kMiB, t);
  // Host memory keeps moving by 2 MiB every 100 ms, above the 1 MiB tolerance.
  feed(tracker, 0, 100000, 10, [](double ms) { return at(ms >= 40 ? 256 : 0, 900 - 2 * static_cast<uint64_t>(ms / 100)); });
  const auto r = tracker.result();
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.settled);
  ASSERT_TRUE(r.reach_ms);
  EXPECT_DOUBLE_EQ(*r.reach_ms, 40);
  ASSERT_TRUE(r.released_fraction);
  // Host at 1040 ms: 900 - 2*10 = 880 MiB: 20 MiB of 256.
  EXPECT_NEAR(*r.released_fraction, 20.0 / 256.0, 1e-12);
}

TEST(BalloonStepTracker, JitterBelowTheToleranceCountsAsSettled) {
  BalloonStep deflate = inflate_step(512, 256);
  ASSERT_EQ(deflate.kind(), StepKind::deflate);
  BalloonStepTracker tracker(4, deflate, 0, 300 * kMiB, timing());
  feed(tracker, 0, 10000, 10, [](double t) {
    BalloonSample s = at(t >= 100 ? 256 : 400, 300);
    s.host_bytes += (static_cast<uint64_t>(t) / 10) % 2 ? 512 * 1024 : 0;  // +-512 KiB
    return s;
  });
  const auto r = tracker.result();
  EXPECT_TRUE(r.settled);
  ASSERT_TRUE(r.reach_ms);
  EXPECT_DOUBLE_EQ(*r.reach_ms, 100);
  // A deflate does not wait for the release window; no fraction for it.
  EXPECT_DOUBLE_EQ(r.end_ms, 400);
  EXPECT_FALSE(r.released_fraction);
}

TEST(BalloonStepTracker, LeavingTheTargetAfterReachDelaysTheEnd) {
  // Reached at 100 ms, then the guest gives pages back (deflate on OOM) until 500 ms.
  BalloonStep hold_at = inflate_step(0, 100);
  BalloonTiming t = timing();
  t.release_window_ms = 0;
  BalloonStepTracker tracker(1, hold_at, 0, 500 * kMiB, t);
  feed(tracker, 0, 10000, 10, [](double ms) { return at(ms >= 100 && (ms < 200 || ms >= 500) ? 100 : 90, 400); });
  const auto r = tracker.result();
  ASSERT_TRUE(r.reach_ms);
  EXPECT_DOUBLE_EQ(*r.reach_ms, 100);  // the first time it got there
  EXPECT_TRUE(r.settled);
  EXPECT_DOUBLE_EQ(r.end_ms, 500);  // quiet since reach, back at target at 500
}

TEST(BalloonStepTracker, IgnoresSamplesOnceDone) {
  BalloonStep hold;
  hold.from_bytes = hold.balloon_bytes = 0;
  BalloonTiming t = timing();
  BalloonStepTracker tracker(1, hold, 0, 10 * kMiB, t);
  EXPECT_FALSE(tracker.observe(0, at(0, 10)));
  EXPECT_TRUE(tracker.observe(300, at(0, 10)));
  EXPECT_TRUE(tracker.observe(400, at(5, 99)));
  const auto r = tracker.result();
  EXPECT_DOUBLE_EQ(r.end_ms, 300);
  EXPECT_EQ(r.host_end_bytes, 10 * kMiB);
}

}  // namespace
}  // namespace tide::vmm::bench
