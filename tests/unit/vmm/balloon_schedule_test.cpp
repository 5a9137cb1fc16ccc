// Unit: the balloon experiment's schedule: percent lists, page rounding, bad input.
#include <gtest/gtest.h>

#include "vmm/bench/balloon_schedule.hpp"

namespace tide::vmm::bench {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMiB = uint64_t{1} << 20;

TEST(BalloonSchedule, DefaultGoesDownToAQuarterAndBack) {
  auto s = parse_balloon_schedule(kDefaultSchedule, kGiB);
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->steps.size(), 6u);  // the leading 100 is the start, not a step
  const uint64_t expected[] = {256 * kMiB, 512 * kMiB, 768 * kMiB, 512 * kMiB, 256 * kMiB, 0};
  const StepKind kinds[] = {StepKind::inflate, StepKind::inflate, StepKind::inflate,
                            StepKind::deflate, StepKind::deflate, StepKind::deflate};
  uint64_t from = 0;
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(s->steps[i].balloon_bytes, expected[i]) << i;
    EXPECT_EQ(s->steps[i].from_bytes, from) << i;
    EXPECT_EQ(s->steps[i].kind(), kinds[i]) << i;
    from = expected[i];
  }
  EXPECT_EQ(s->memory_bytes, kGiB);
  EXPECT_EQ(s->describe(), "100,75,50,25,50,75,100");
}

TEST(BalloonSchedule, AcceptsPercentSignsSpacesDecimalsAndNoLeading100) {
  auto s = parse_balloon_schedule(" 50% , 37.5,50 ,50", kGiB);
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->steps.size(), 4u);
  EXPECT_EQ(s->steps[0].balloon_bytes, 512 * kMiB);
  EXPECT_EQ(s->steps[1].balloon_bytes, 640 * kMiB);
  EXPECT_EQ(s->steps[2].kind(), StepKind::deflate);
  EXPECT_EQ(s->steps[3].kind(), StepKind::hold);
  EXPECT_EQ(s->describe(), "100,50,37.5,50,50");
}

TEST(BalloonSchedule, BalloonIsWholePagesAndNeverMoreThanAsked) {
  // 1/3 of 1 GiB is not a whole number of pages: the guest's share rounds up a page.
  const uint64_t b = balloon_bytes_for(100.0 / 3.0, kGiB);
  EXPECT_EQ(b % kBalloonPageBytes, 0u);
  EXPECT_LE(static_cast<double>(b), static_cast<double>(kGiB) * 2.0 / 3.0);
  EXPECT_GT(static_cast<double>(b), static_cast<double>(kGiB) * 2.0 / 3.0 - kBalloonPageBytes);
  EXPECT_EQ(balloon_bytes_for(100, kGiB), 0u);
  // The smallest share still leaves the guest a page.
  EXPECT_EQ(balloon_bytes_for(0.0001, 64 * kMiB), 64 * kMiB - kBalloonPageBytes);
}

TEST(BalloonSchedule, RejectsBadInputNamingTheEntry) {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"", "empty"},
      {"75,,50", "entry 2 is empty"},
      {"75,", "entry 2 is empty"},
      {"abc", "entry 1 ('abc') is not a number"},
      {"75,5O", "entry 2 ('5O') is not a number"},
      {"-5", "not a number"},
      {"1e2", "not a number"},
      {"nan", "not a number"},
      {"0x10", "not a number"},
      {"1.2.3", "not a number"},
      {".", "not a number"},
      {"0", "entry 1 (0) is not above 0 and at most 100"},
      {"50,100.5", "entry 2 (100.5) is not above 0"},
      {"150", "not above 0 and at most 100"},
      {"100", "no step after the start"},
  };
  for (const auto& c : cases) {
    auto s = parse_balloon_schedule(c.text, kGiB);
    ASSERT_FALSE(s) << c.text;
    EXPECT_EQ(s.error().code, std::make_error_code(std::errc::invalid_argument)) << c.text;
    EXPECT_NE(s.error().message().find(c.says), std::string::npos) << c.text << " -> " << s.error().message();
    // Every error shows what a schedule looks like.
    EXPECT_NE(s.error().message().find(kDefaultSchedule), std::string::npos) << c.text;
  }
}

TEST(BalloonSchedule, BoundsTheNumberOfSteps) {
  std::string ok_text, too_long;
  for (size_t i = 0; i < kMaxScheduleSteps; ++i) ok_text += (i ? "," : "") + std::string(i % 2 ? "50" : "75");
  EXPECT_TRUE(parse_balloon_schedule(ok_text, kGiB));
  too_long = ok_text + ",50";
  auto s = parse_balloon_schedule(too_long, kGiB);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("more than"), std::string::npos);
  // The leading 100 is not a step, so it does not count.
  EXPECT_TRUE(parse_balloon_schedule("100," + ok_text, kGiB));
}

TEST(BalloonSchedule, StepKindNames) {
  EXPECT_STREQ(step_kind_name(StepKind::inflate), "inflate");
  EXPECT_STREQ(step_kind_name(StepKind::deflate), "deflate");
  EXPECT_STREQ(step_kind_name(StepKind::hold), "hold");
}

}  // namespace
}  // namespace tide::vmm::bench
