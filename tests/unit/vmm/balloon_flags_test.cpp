// Unit: `tide run`'s balloon flags — the default balloon, feature lists (default, none, bad
// items), --current-memory, --balloon-stats-period's bounds and --balloon-auto, parsed from
// an argv the way run_command declares its options.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "vmm/cli/balloon_flags.hpp"

namespace tide::vmm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// run_command's options (the balloon's and a few others beside them).
Args parsed(const std::vector<std::string>& argv) {
  Args args("run",
            {"kernel", "cmdline", "initrd", "memory", "vcpus", "log-level", "pool", "hot-pool", "memory-backend",
             "stats-interval", "audit-interval", "config", "balloon", "current-memory", "balloon-stats-period",
             "balloon-auto"},
            {"help", "no-rng", "vcpu-stats", "test-hooks"});
  auto st = args.parse(argv);
  EXPECT_TRUE(st) << st.error().message();
  return args;
}

MachineBalloon balloon_ok(const std::vector<std::string>& argv, uint64_t memory = kGiB) {
  auto r = balloon_from_flags(parsed(argv), memory);
  EXPECT_TRUE(r) << r.error().message();
  if (!r) return {};
  EXPECT_TRUE(r->has_value()) << "no balloon";
  return r->value_or(MachineBalloon{});
}

std::string flags_error(const std::vector<std::string>& argv, uint64_t memory = kGiB) {
  auto r = balloon_from_flags(parsed(argv), memory);
  EXPECT_FALSE(r) << "accepted";
  if (r) return {};
  EXPECT_EQ(r.error().code, std::make_error_code(std::errc::invalid_argument));
  return r.error().message();
}

void expect_features(const balloon::BalloonFeatures& f, bool mth, bool stats, bool oom, bool report) {
  EXPECT_EQ(f.must_tell_host, mth);
  EXPECT_EQ(f.stats, stats);
  EXPECT_EQ(f.deflate_on_oom, oom);
  EXPECT_EQ(f.reporting, report);
}

TEST(BalloonFlags, NoFlagsGiveTheDefaultBalloon) {
  const Args args = parsed({"--memory", "1G", "--kernel", "/k"});
  EXPECT_FALSE(balloon_flags_given(args));
  auto r = balloon_from_flags(args, kGiB);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->has_value());
  const MachineBalloon& b = **r;
  expect_features(b.features, true, true, false, true);
  EXPECT_EQ(b.control.stats_period_s, 1u);
  EXPECT_FALSE(b.control.auto_mode);
  EXPECT_EQ(b.initial_target_bytes, 0u) << "an empty balloon: the guest has all its memory";
}

TEST(BalloonFlags, AnyBalloonFlagCountsAsGiven) {
  for (const char* flag : {"--balloon", "--current-memory", "--balloon-stats-period", "--balloon-auto"}) {
    EXPECT_TRUE(balloon_flags_given(parsed({flag, "1"}))) << flag;
  }
  EXPECT_TRUE(balloon_flags_given(parsed({"--balloon=none"})));
  EXPECT_FALSE(balloon_flags_given(parsed({"--pool", "2G", "--no-rng"})));
}

TEST(BalloonFlags, EachFeatureOnItsOwn) {
  expect_features(balloon_ok({"--balloon", "mth"}).features, true, false, false, false);
  expect_features(balloon_ok({"--balloon", "stats"}).features, false, true, false, false);
  expect_features(balloon_ok({"--balloon", "oom"}).features, false, false, true, false);
  expect_features(balloon_ok({"--balloon", "report"}).features, false, false, false, true);
}

TEST(BalloonFlags, AListIsTheUnionOfItsItems) {
  expect_features(balloon_ok({"--balloon", "mth,oom"}).features, true, false, true, false);
  expect_features(balloon_ok({"--balloon=stats,report,oom,mth"}).features, true, true, true, true);
  expect_features(balloon_ok({"--balloon", "stats,stats"}).features, false, true, false, false);
  expect_features(balloon_ok({"--balloon", "default"}).features, true, true, false, true);
  expect_features(balloon_ok({"--balloon", "default,oom"}).features, true, true, true, true);
  // Order does not matter: default adds its features to the ones before it.
  expect_features(balloon_ok({"--balloon", "oom,default"}).features, true, true, true, true);
}

TEST(BalloonFlags, AListKeepsTheDefaultPeriodAndAnEmptyBalloon) {
  const MachineBalloon b = balloon_ok({"--balloon", "mth,oom"});
  EXPECT_EQ(b.control.stats_period_s, 1u);
  EXPECT_FALSE(b.control.auto_mode);
  EXPECT_EQ(b.initial_target_bytes, 0u);
}

TEST(BalloonFlags, NoneMeansNoBalloon) {
  auto r = balloon_from_flags(parsed({"--balloon", "none"}), kGiB);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->has_value());
}

TEST(BalloonFlags, NoneRefusesTheFlagsThatNeedABalloon) {
  std::string e = flags_error({"--balloon", "none", "--current-memory", "512M"});
  EXPECT_NE(e.find("--current-memory needs a balloon (not --balloon none)"), std::string::npos) << e;
  // Auto mode or a stats period without a device would be silently ignored.
  e = flags_error({"--balloon", "none", "--balloon-auto", "256M"});
  EXPECT_NE(e.find("--balloon-auto needs a balloon (not --balloon none)"), std::string::npos) << e;
  e = flags_error({"--balloon-stats-period", "5", "--balloon", "none"});
  EXPECT_NE(e.find("--balloon-stats-period needs a balloon (not --balloon none)"), std::string::npos) << e;
}

TEST(BalloonFlags, BadItemsAreNamed) {
  for (auto [list, item] : std::vector<std::pair<std::string, std::string>>{
           {"mth,bogus", "bogus"}, {"MTH", "MTH"}, {"stats,,report", ""}, {"none,mth", "none"}, {"mth, oom", " oom"}}) {
    const std::string e = flags_error({"--balloon", list});
    EXPECT_NE(e.find("--balloon: '" + item + "' is not one of mth, stats, oom, report, default (or none)"),
              std::string::npos)
        << list << ": " << e;
  }
}

TEST(BalloonFlags, CurrentMemorySetsTheInitialBalloon) {
  MachineBalloon b = balloon_ok({"--current-memory", "256M"}, kGiB);
  EXPECT_EQ(b.initial_target_bytes, kGiB - 256 * kMiB);
  expect_features(b.features, true, true, false, true);

  EXPECT_EQ(balloon_ok({"--current-memory", "1G"}, kGiB).initial_target_bytes, 0u) << "all of it";
  EXPECT_EQ(balloon_ok({"--current-memory", "0"}, kGiB).initial_target_bytes, kGiB);
  EXPECT_EQ(balloon_ok({"--current-memory", "512"}, kGiB).initial_target_bytes, 512 * kMiB) << "a bare number is MiB";
  // Whole pages: a current memory off a page boundary leaves the guest the partial page.
  EXPECT_EQ(balloon_ok({"--current-memory", "1048577B"}, 2 * kMiB).initial_target_bytes, kMiB - 4096);
  EXPECT_EQ(balloon_ok({"--current-memory", "1023K"}, 2 * kMiB).initial_target_bytes, kMiB);
}

TEST(BalloonFlags, CurrentMemoryAboveMemoryOrMalformedIsRefused) {
  std::string e = flags_error({"--current-memory", "2G"}, kGiB);
  EXPECT_NE(e.find("--current-memory: larger than the guest's memory"), std::string::npos) << e;
  e = flags_error({"--current-memory", "1073741825B"}, kGiB);
  EXPECT_NE(e.find("larger than the guest's memory"), std::string::npos) << e;
  e = flags_error({"--current-memory", "lots"});
  EXPECT_NE(e.find("--current-memory: bad size 'lots'"), std::string::npos) << e;
  e = flags_error({"--current-memory="});
  EXPECT_NE(e.find("--current-memory: bad size ''"), std::string::npos) << e;
}

TEST(BalloonFlags, StatsPeriodBounds) {
  EXPECT_EQ(balloon_ok({"--balloon-stats-period", "0"}).control.stats_period_s, 0u);
  EXPECT_EQ(balloon_ok({"--balloon-stats-period", "10"}).control.stats_period_s, 10u);
  EXPECT_EQ(balloon_ok({"--balloon-stats-period", "86400"}).control.stats_period_s, 86400u);
  for (const char* bad : {"86401", "-1", "", "1s", "abc", "1.5", "99999999999999999999999"}) {
    const std::string e = flags_error({"--balloon-stats-period", bad});
    EXPECT_NE(e.find("--balloon-stats-period: '" + std::string(bad) + "' is not 0..86400 seconds"), std::string::npos)
        << bad << ": " << e;
  }
}

TEST(BalloonFlags, AutoSetsTheMarginAndKeepsThePolicysOtherDefaults) {
  const BalloonAutoOptions defaults;
  const MachineBalloon b = balloon_ok({"--balloon-auto", "128M"});
  ASSERT_TRUE(b.control.auto_mode);
  EXPECT_EQ(b.control.auto_mode->params.free_margin_bytes, 128 * kMiB);
  EXPECT_EQ(b.control.auto_mode->params.max_step_bytes, defaults.params.max_step_bytes);
  EXPECT_EQ(b.control.auto_mode->params.hysteresis_bytes, defaults.params.hysteresis_bytes);
  EXPECT_EQ(b.control.auto_mode->limits.min_guest_bytes, 0u);
  EXPECT_EQ(b.control.stats_period_s, 1u);
  expect_features(b.features, true, true, false, true);

  EXPECT_EQ(balloon_ok({"--balloon-auto", "0"}).control.auto_mode->params.free_margin_bytes, 0u);
  const MachineBalloon listed = balloon_ok({"--balloon", "stats,oom", "--balloon-auto", "1G", "--balloon-stats-period", "5"});
  ASSERT_TRUE(listed.control.auto_mode);
  EXPECT_EQ(listed.control.auto_mode->params.free_margin_bytes, kGiB);
  EXPECT_EQ(listed.control.stats_period_s, 5u);
  expect_features(listed.features, false, true, true, false);
}

TEST(BalloonFlags, AutoNeedsTheStatsFeatureAndASize) {
  std::string e = flags_error({"--balloon", "mth,report", "--balloon-auto", "256M"});
  EXPECT_NE(e.find("--balloon-auto needs the stats feature (--balloon ...,stats)"), std::string::npos) << e;
  e = flags_error({"--balloon-auto", "some"});
  EXPECT_NE(e.find("--balloon-auto: bad size 'some'"), std::string::npos) << e;
}

TEST(BalloonFlags, EverythingTogether) {
  const MachineBalloon b = balloon_ok({"--memory", "2G", "--balloon", "default,oom", "--current-memory", "1536M",
                                       "--balloon-stats-period", "2", "--balloon-auto", "64M"},
                                      2 * kGiB);
  expect_features(b.features, true, true, true, true);
  EXPECT_EQ(b.initial_target_bytes, 512 * kMiB);
  EXPECT_EQ(b.control.stats_period_s, 2u);
  ASSERT_TRUE(b.control.auto_mode);
  EXPECT_EQ(b.control.auto_mode->params.free_margin_bytes, 64 * kMiB);
}

}  // namespace
}  // namespace tide::vmm
