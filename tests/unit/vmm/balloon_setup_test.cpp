// Unit: from a guest's definition to its balloon device — memballoon model='none' with and
// without currentMemory, autodeflate and freePageReporting as features, the stats period,
// the initial balloon (memory - currentMemory in whole pages) and a currentMemory above
// memory.
#include <gtest/gtest.h>

#include <string>
#include <system_error>

#include "vmm/host/balloon_setup.hpp"

namespace tide::vmm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

GuestConfig guest(uint64_t memory, std::optional<uint64_t> current = std::nullopt) {
  GuestConfig c;
  c.name = "g1";
  c.memory_bytes = memory;
  c.current_memory_bytes = current;
  return c;
}

MachineBalloon balloon_ok(const GuestConfig& c) {
  auto r = machine_balloon(c);
  EXPECT_TRUE(r) << r.error().message();
  if (!r) return {};
  EXPECT_TRUE(r->has_value()) << "no balloon";
  return r->value_or(MachineBalloon{});
}

std::string setup_error(const GuestConfig& c) {
  auto r = machine_balloon(c);
  EXPECT_FALSE(r) << "accepted";
  if (r) return {};
  EXPECT_EQ(r.error().code, std::make_error_code(std::errc::invalid_argument));
  return r.error().message();
}

TEST(BalloonSetup, TheDefaultBalloon) {
  const MachineBalloon b = balloon_ok(guest(kGiB));
  EXPECT_TRUE(b.features.must_tell_host);
  EXPECT_TRUE(b.features.stats);
  EXPECT_FALSE(b.features.deflate_on_oom);
  EXPECT_FALSE(b.features.reporting);
  EXPECT_EQ(b.initial_target_bytes, 0u);
  EXPECT_EQ(b.control.stats_period_s, 0u) << "no <stats period>: the device never asks";
  EXPECT_FALSE(b.control.auto_mode) << "a definition never turns auto mode on";
}

TEST(BalloonSetup, ModelNoneWithoutCurrentMemoryIsNoBalloon) {
  GuestConfig c = guest(kGiB);
  c.balloon.enabled = false;
  auto r = machine_balloon(c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->has_value());

  c.current_memory_bytes = kGiB;  // equal to memory: nothing to balloon
  r = machine_balloon(c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->has_value());
}

TEST(BalloonSetup, ModelNoneWithASmallerCurrentMemoryIsRefused) {
  GuestConfig c = guest(kGiB, 512 * kMiB);
  c.balloon.enabled = false;
  const std::string e = setup_error(c);
  EXPECT_NE(e.find("g1: current memory below memory needs a balloon (memballoon model='none')"), std::string::npos) << e;

  c.current_memory_bytes = kGiB - 4096;  // one page short
  EXPECT_FALSE(machine_balloon(c));
}

TEST(BalloonSetup, ModelNoneWithAnUnalignedMemoryEqualToCurrentMemory) {
  // tide's JSON and CH's vm.create take sizes in bytes: memory = currentMemory = 10^9 is a
  // guest with all its memory (the VM gets it rounded up to whole pages), not a balloon.
  GuestConfig c = guest(1000000000, 1000000000);
  c.balloon.enabled = false;
  auto r = machine_balloon(c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->has_value());

  // Less than a page short: a balloon would start empty too.
  c = guest(kGiB, kGiB - 100);
  c.balloon.enabled = false;
  r = machine_balloon(c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->has_value());
}

TEST(BalloonSetup, AutodeflateAndFreePageReportingBecomeFeatures) {
  GuestConfig c = guest(kGiB);
  c.balloon.autodeflate = true;
  MachineBalloon b = balloon_ok(c);
  EXPECT_TRUE(b.features.deflate_on_oom);
  EXPECT_FALSE(b.features.reporting);
  EXPECT_TRUE(b.features.must_tell_host);
  EXPECT_TRUE(b.features.stats);

  c.balloon.autodeflate = false;
  c.balloon.free_page_reporting = true;
  b = balloon_ok(c);
  EXPECT_FALSE(b.features.deflate_on_oom);
  EXPECT_TRUE(b.features.reporting);

  c.balloon.autodeflate = true;
  b = balloon_ok(c);
  EXPECT_TRUE(b.features.deflate_on_oom);
  EXPECT_TRUE(b.features.reporting);
  EXPECT_EQ(b.features.bits(), (balloon::BalloonFeatures{true, true, true, true}.bits()));
}

TEST(BalloonSetup, TheStatsPeriodIsTheControllers) {
  GuestConfig c = guest(kGiB);
  c.balloon.stats_period_s = 10;
  EXPECT_EQ(balloon_ok(c).control.stats_period_s, 10u);
  c.balloon.stats_period_s = 86400;
  EXPECT_EQ(balloon_ok(c).control.stats_period_s, 86400u);
}

TEST(BalloonSetup, TheBalloonStartsAtMemoryMinusCurrentMemory) {
  EXPECT_EQ(balloon_ok(guest(kGiB, 256 * kMiB)).initial_target_bytes, kGiB - 256 * kMiB);
  EXPECT_EQ(balloon_ok(guest(kGiB, kGiB)).initial_target_bytes, 0u);
  EXPECT_EQ(balloon_ok(guest(kGiB, 0)).initial_target_bytes, kGiB) << "a zero current memory from JSON";
  EXPECT_EQ(balloon_ok(guest(4 * kGiB, 3 * kGiB)).initial_target_bytes, kGiB);
}

TEST(BalloonSetup, TheInitialBalloonIsWholePages) {
  // currentMemory off a page boundary: the balloon rounds down, the guest keeps the part page.
  EXPECT_EQ(balloon_ok(guest(kGiB, 512 * kMiB + 1)).initial_target_bytes, 512 * kMiB - 4096);
  EXPECT_EQ(balloon_ok(guest(kGiB, 512 * kMiB + 4095)).initial_target_bytes, 512 * kMiB - 4096);
  EXPECT_EQ(balloon_ok(guest(kGiB, kGiB - 1)).initial_target_bytes, 0u);
  // memory off a page boundary is rounded up to whole pages (as the VM gets it).
  EXPECT_EQ(balloon_ok(guest(kGiB - 100, 512 * kMiB)).initial_target_bytes, 512 * kMiB);
  EXPECT_EQ(balloon_ok(guest(kGiB + 1, 512 * kMiB)).initial_target_bytes, 512 * kMiB + 4096);
  for (uint64_t current : {uint64_t{1}, uint64_t{12345}, 100 * kMiB + 7}) {
    const uint64_t target = balloon_ok(guest(kGiB, current)).initial_target_bytes;
    EXPECT_EQ(target % 4096, 0u) << current;
    EXPECT_LE(target, kGiB - current) << current;
    EXPECT_GT(target + 4096, kGiB - current) << current;
  }
}

TEST(BalloonSetup, CurrentMemoryAboveMemoryIsRefused) {
  std::string e = setup_error(guest(kGiB, kGiB + 4096));
  EXPECT_NE(e.find("g1: current memory (1048580 KiB) is larger than memory (1048576 KiB)"), std::string::npos) << e;
  e = setup_error(guest(kGiB, 2 * kGiB));
  EXPECT_NE(e.find("current memory (2097152 KiB) is larger than memory (1048576 KiB)"), std::string::npos) << e;
  // Whichever the model.
  GuestConfig c = guest(kGiB, 2 * kGiB);
  c.balloon.enabled = false;
  e = setup_error(c);
  EXPECT_NE(e.find("is larger than memory"), std::string::npos) << e;
  // Within the page memory is rounded up to, it is not above.
  EXPECT_EQ(balloon_ok(guest(kGiB - 100, kGiB - 50)).initial_target_bytes, 0u);
}

}  // namespace
}  // namespace tide::vmm
