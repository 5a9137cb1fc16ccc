// Unit: the balloon policy — inflate on surplus, deflate on shortfall, the hysteresis band,
// the step bound, pool pressure, the guest's floor and the balloon cap, missing and stale
// stats, and a closed-loop run that settles at the margin.
#include "balloon/balloon_policy.hpp"

#include <gtest/gtest.h>

namespace tide::balloon {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// A 4 GiB guest, empty balloon, target 0; margin 256 MiB, hysteresis 32 MiB, step 256 MiB.
PolicyInput base(uint64_t available) {
  PolicyInput in;
  in.guest_ram_bytes = 4 * kGiB;
  in.stats = PolicyStats{available, 1'000'000'000};
  in.pool = PoolPressure{50 * kGiB, 100 * kGiB};
  return in;
}

TEST(BalloonPolicy, InflatesBySurplusUpToTheStep) {
  PolicyInput in = base(400 * kMiB);  // 144 MiB over the margin
  BalloonPolicyDecision d = decide_target(in);
  EXPECT_EQ(d.action, PolicyAction::kInflate);
  EXPECT_EQ(d.target_bytes, 144 * kMiB);
  EXPECT_EQ(d.target_pages(), (144 * kMiB) / 4096);
  EXPECT_NE(d.reason.find("surplus"), std::string::npos) << d.reason;

  in = base(3 * kGiB);  // a big surplus: one step only
  d = decide_target(in);
  EXPECT_EQ(d.target_bytes, 256 * kMiB);
  EXPECT_NE(d.reason.find("step-limited"), std::string::npos) << d.reason;
}

TEST(BalloonPolicy, MeasuresFromTheBalloonNotTheTarget) {
  // The balloon is still filling towards 1 GiB; the guest has 100 MiB surplus with the
  // 600 MiB it holds now, so 700 MiB is the right size: the target comes down.
  PolicyInput in = base(356 * kMiB);
  in.target_bytes = 1 * kGiB;
  in.balloon_bytes = 600 * kMiB;
  BalloonPolicyDecision d = decide_target(in);
  EXPECT_EQ(d.target_bytes, 768 * kMiB) << "down by at most one step: " << d.reason;
  EXPECT_EQ(d.action, PolicyAction::kDeflate);
}

TEST(BalloonPolicy, DeflatesByShortfall) {
  PolicyInput in = base(100 * kMiB);  // 156 MiB short
  in.target_bytes = in.balloon_bytes = 1 * kGiB;
  BalloonPolicyDecision d = decide_target(in);
  EXPECT_EQ(d.action, PolicyAction::kDeflate);
  EXPECT_EQ(d.target_bytes, 1 * kGiB - 156 * kMiB);
  EXPECT_NE(d.reason.find("short"), std::string::npos) << d.reason;

  in = base(0);  // starved, small balloon: deflates to empty, not below
  in.target_bytes = in.balloon_bytes = 100 * kMiB;
  EXPECT_EQ(decide_target(in).target_bytes, 0u);
}

TEST(BalloonPolicy, HysteresisKeepsTheTargetNearTheMargin) {
  for (uint64_t available : {256 * kMiB, 280 * kMiB, 288 * kMiB, 230 * kMiB, 224 * kMiB}) {
    PolicyInput in = base(available);
    in.target_bytes = in.balloon_bytes = 512 * kMiB;
    BalloonPolicyDecision d = decide_target(in);
    EXPECT_EQ(d.action, PolicyAction::kKeep) << available / kMiB << " MiB: " << d.reason;
    EXPECT_EQ(d.target_bytes, 512 * kMiB);
  }
  PolicyInput in = base(289 * kMiB);
  EXPECT_EQ(decide_target(in).action, PolicyAction::kInflate);
  in = base(223 * kMiB);
  in.target_bytes = in.balloon_bytes = 512 * kMiB;
  EXPECT_EQ(decide_target(in).action, PolicyAction::kDeflate);
}

TEST(BalloonPolicy, PoolPressureReclaimsHarder) {
  PolicyInput in = base(270 * kMiB);  // inside the band normally
  EXPECT_EQ(decide_target(in).action, PolicyAction::kKeep);
  in.pool = PoolPressure{5 * kGiB, 100 * kGiB};  // 5% free
  BalloonPolicyDecision d = decide_target(in);
  EXPECT_EQ(d.action, PolicyAction::kInflate);
  EXPECT_EQ(d.target_bytes, 270 * kMiB - 128 * kMiB) << "half the margin, no hysteresis";
  EXPECT_NE(d.reason.find("pressure"), std::string::npos) << d.reason;

  in = base(3 * kGiB);
  in.pool = PoolPressure{1 * kGiB, 100 * kGiB};
  EXPECT_EQ(decide_target(in).target_bytes, 512 * kMiB) << "twice the step";

  // A starved guest still gets memory back under pressure, down to the reduced margin.
  in = base(64 * kMiB);
  in.target_bytes = in.balloon_bytes = 1 * kGiB;
  in.pool = PoolPressure{1 * kGiB, 100 * kGiB};
  EXPECT_EQ(decide_target(in).target_bytes, 1 * kGiB - 64 * kMiB);

  in.pool = PoolPressure{0, 0};  // unknown pool: no pressure
  EXPECT_EQ(decide_target(in).target_bytes, 1 * kGiB - 192 * kMiB);
}

TEST(BalloonPolicy, LimitsWinOverEverything) {
  PolicyInput in = base(3 * kGiB);
  in.limits.min_guest_bytes = 3900 * kMiB;  // the balloon may hold 196 MiB at most
  BalloonPolicyDecision d = decide_target(in);
  EXPECT_EQ(d.target_bytes, 196 * kMiB);
  EXPECT_NE(d.reason.find("limited"), std::string::npos) << d.reason;

  in = base(3 * kGiB);
  in.limits.max_balloon_bytes = 100 * kMiB + 123;  // rounded down to whole pages
  EXPECT_EQ(decide_target(in).target_bytes, 100 * kMiB);

  // A floor raised above the current target pulls it down at once, past the step bound.
  in = base(300 * kMiB);
  in.target_bytes = in.balloon_bytes = 3 * kGiB;
  in.limits.min_guest_bytes = 3 * kGiB;
  d = decide_target(in);
  EXPECT_EQ(d.target_bytes, 1 * kGiB);
  EXPECT_EQ(d.action, PolicyAction::kDeflate);

  in.limits.min_guest_bytes = 8 * kGiB;  // more than the guest has: no balloon at all
  EXPECT_EQ(decide_target(in).target_bytes, 0u);
}

TEST(BalloonPolicy, NoOrStaleStatsKeepTheTarget) {
  PolicyInput in = base(3 * kGiB);
  in.target_bytes = 300 * kMiB;
  in.stats.reset();
  BalloonPolicyDecision d = decide_target(in);
  EXPECT_EQ(d.action, PolicyAction::kKeep);
  EXPECT_EQ(d.target_bytes, 300 * kMiB);
  EXPECT_NE(d.reason.find("no guest stats"), std::string::npos) << d.reason;

  in.stats = PolicyStats{3 * kGiB, 11'000'000'000};
  d = decide_target(in);
  EXPECT_EQ(d.action, PolicyAction::kKeep);
  EXPECT_NE(d.reason.find("old"), std::string::npos) << d.reason;

  // Still clamped to the limits.
  in.limits.max_balloon_bytes = 200 * kMiB;
  EXPECT_EQ(decide_target(in).target_bytes, 200 * kMiB);
}

TEST(BalloonPolicy, StatsFromTheDevice) {
  GuestStats s;
  EXPECT_EQ(policy_stats(s, 100), std::nullopt);
  s.set(VIRTIO_BALLOON_S_MEMFREE, 5 * kMiB);
  s.updated_ns = 40;
  ASSERT_TRUE(policy_stats(s, 100));
  EXPECT_EQ(policy_stats(s, 100)->available_bytes, 5 * kMiB);
  EXPECT_EQ(policy_stats(s, 100)->age_ns, 60u);
  EXPECT_EQ(policy_stats(s, 10)->age_ns, 0u) << "a clock behind the sample is age 0";
  s.set(VIRTIO_BALLOON_S_AVAIL, 7 * kMiB);
  EXPECT_EQ(policy_stats(s, 100)->available_bytes, 7 * kMiB);
}

TEST(BalloonPolicy, AClosedLoopSettlesAtTheMargin) {
  // A guest using 1 GiB of its 4 GiB; whatever it does not use is available.
  const uint64_t used = 1 * kGiB;
  PolicyInput in = base(0);
  for (int round = 0; round < 40; ++round) {
    in.stats->available_bytes = in.guest_ram_bytes - used - in.balloon_bytes;
    BalloonPolicyDecision d = decide_target(in);
    in.target_bytes = d.target_bytes;
    in.balloon_bytes = d.target_bytes;  // the guest follows at once
  }
  const uint64_t available = in.guest_ram_bytes - used - in.balloon_bytes;
  EXPECT_GE(available, 256 * kMiB - 32 * kMiB);
  EXPECT_LE(available, 256 * kMiB + 32 * kMiB);
  in.stats->available_bytes = available;
  EXPECT_EQ(decide_target(in).action, PolicyAction::kKeep);
}

TEST(BalloonPolicy, ExtremeInputsDoNotOverflow) {
  PolicyInput in;
  in.guest_ram_bytes = UINT64_MAX;
  in.target_bytes = UINT64_MAX - 5;
  in.balloon_bytes = UINT64_MAX;
  in.stats = PolicyStats{UINT64_MAX, 0};
  in.params.max_step_bytes = UINT64_MAX;
  in.pool = PoolPressure{UINT64_MAX, 1};
  BalloonPolicyDecision d = decide_target(in);
  EXPECT_EQ(d.target_bytes % 4096, 0u);
  EXPECT_LE(d.target_bytes, in.guest_ram_bytes);
  in.stats = PolicyStats{0, 0};
  in.params.free_margin_bytes = UINT64_MAX;
  d = decide_target(in);
  EXPECT_EQ(d.target_bytes % 4096, 0u);
}

}  // namespace
}  // namespace tide::balloon
