// Integration: guest RAM under tide's allocator with real KVM and userfaultfd — touched
// pages become the frames the P2M names (a whole 2 MiB extent per first touch), a release
// makes them non-resident and the next touch brings zeroed frames, and faults racing with
// releases on the same extents leave the audit clean.
#include <atomic>
#include <random>
#include <thread>

#include "tiny_vm.hpp"

namespace tide::test {
namespace {

using gmm::Gfn;
using gmm::Gpa;

constexpr uint64_t kMarkerXor = 0x5a5a5a5a5a5a5a5aULL;

bool present(gmm::GuestMm& g, uint64_t gpa) {
  auto i = g.p2m().index_of(gmm::gfn_of(Gpa(gpa)));
  return i && g.p2m().load(*i).has_frame();
}

uint64_t frame_word(TinyVm& t, uint64_t gpa) {
  auto i = t.guest().p2m().index_of(gmm::gfn_of(Gpa(gpa)));
  gmm::Mfn m = t.guest().p2m().load(*i).mfn();
  uint64_t v = 0;
  std::memcpy(&v, t.mm().backing().map() + (m.value() << gmm::kPageShift) + (gpa & 0xfff), 8);
  return v;
}

TEST(GuestMemoryIntegration, TouchReleaseAndRefault) {
  TIDE_REQUIRE_KVM();
  TinyVm t(1, 64ull << 20);
  const std::vector<uint64_t> addrs = {0x2000000, 0x2001000, 0x2400000};
  auto mem = t.vm().memory();
  ASSERT_TRUE(mem.write_obj<uint64_t>(Gpa(0x3000), addrs.size()));
  for (size_t i = 0; i < addrs.size(); ++i) ASSERT_TRUE(mem.write_obj<uint64_t>(Gpa(0x3008 + 8 * i), addrs[i]));
  std::atomic<bool> touched{false};
  std::atomic<uint32_t> intact{0xffffffff}, zero{0xffffffff};
  t.add_pio(0x600, 1, nullptr, [&](uint64_t, std::span<const uint8_t>) { touched = true; });
  t.add_pio(0x608, 4, nullptr, [&](uint64_t, std::span<const uint8_t> d) { intact = static_cast<uint32_t>(le_value(d)); });
  t.add_pio(0x60c, 4, nullptr, [&](uint64_t, std::span<const uint8_t> d) { zero = static_cast<uint32_t>(le_value(d)); });
  t.load(tiny_touch_start, tiny_touch_end);
  ASSERT_TRUE(t.vm().start());
  while (!touched) std::this_thread::yield();

  // The touched extents are resident (whole, by fault-around); an untouched one is not.
  EXPECT_TRUE(present(t.guest(), 0x2000000));
  EXPECT_TRUE(present(t.guest(), 0x21ff000));  // same extent, never touched by the guest
  EXPECT_TRUE(present(t.guest(), 0x2400000));
  EXPECT_FALSE(present(t.guest(), 0x3000000));
  for (uint64_t a : addrs) EXPECT_EQ(frame_word(t, a), a ^ kMarkerXor) << std::hex << a;
  ASSERT_TRUE(t.mm().check_invariants());
  const auto before = t.guest().stats();
  const uint64_t host_before = t.mm().backing().resident_bytes();

  // Release the first two pages while the guest spins on its flag.
  const Gfn g0 = gmm::gfn_of(Gpa(addrs[0]));
  auto r = t.guest().release_range(g0, 2, gmm::PageState::empty);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->released, 2u);
  EXPECT_EQ(r->punched_ranges, 1u);  // the two frames are adjacent: one range
  EXPECT_FALSE(present(t.guest(), addrs[0]));
  EXPECT_FALSE(present(t.guest(), addrs[1]));
  EXPECT_EQ(t.guest().stats().resident_frames, before.resident_frames - 2);
  EXPECT_EQ(t.mm().backing().resident_bytes(), host_before - 2 * gmm::kPageSize);
  ASSERT_TRUE(t.mm().check_invariants());

  ASSERT_TRUE(mem.write_obj<uint64_t>(Gpa(0x2ff8), 1));
  vmm::VmExit exit = t.vm().wait();
  ASSERT_EQ(exit.kind, vmm::VmExit::Kind::debug_exit) << exit.message;
  EXPECT_EQ(intact.load(), 1u);  // the page that was not released kept its marker
  EXPECT_EQ(zero.load(), 2u);    // the released pages came back as zeroes
  EXPECT_TRUE(present(t.guest(), addrs[0]));  // refaulted
  EXPECT_EQ(t.fault_errors(), 0u);
  ASSERT_TRUE(t.mm().check_invariants());
}

struct RaceParams {
  uint64_t hot_frames;
  bool async_scrub;
  bool keeps_off;  // releases promise the guest keeps off (it does not: it must see old data or zero)
};

class RaceTest : public ::testing::TestWithParam<RaceParams> {};

TEST_P(RaceTest, FaultsRacingReleasesLeaveTheAuditClean) {
  TIDE_REQUIRE_KVM();
  const RaceParams p = GetParam();
  TinyVm t(2, 64ull << 20, 0, p.hot_frames, p.async_scrub);
  std::atomic<uint64_t> corrupt{0};
  t.add_pio(0x610, 4, nullptr, [&](uint64_t, std::span<const uint8_t>) { corrupt.fetch_add(1); });
  t.load(tiny_race_start, tiny_race_end);
  ASSERT_TRUE(t.vm().start());
  std::mt19937_64 rng(p.hot_frames + 7);
  gmm::ReleaseOptions opts;
  opts.guest_keeps_off = p.keeps_off;
  const uint64_t first = 0x1000000 >> 12, pages = 0x2000000 >> 12;
  uint64_t released = 0;
  for (int i = 0; i < 3000; ++i) {
    uint64_t count = 1 + rng() % 600;
    uint64_t at = first + rng() % (pages - count);
    auto r = t.guest().release_range(Gfn(at), count, p.keeps_off ? gmm::PageState::ballooned : gmm::PageState::empty, opts);
    ASSERT_TRUE(r) << r.error().message();
    released += r->released;
    if (p.keeps_off && rng() % 4 == 0) {
      // Deflate part of it again: those pages must lose any PTE on their old frames.
      ASSERT_TRUE(t.guest().release_range(Gfn(at), count / 2 + 1, gmm::PageState::empty));
    }
    if (i % 500 == 0) {
      auto st = t.mm().check_invariants();
      ASSERT_TRUE(st) << st.error().message();
    }
  }
  t.vm().request_stop(vmm::VmExit{vmm::VmExit::Kind::stopped, 0, "test"});
  vmm::VmExit exit = t.vm().wait();
  EXPECT_EQ(exit.kind, vmm::VmExit::Kind::stopped) << exit.message;
  EXPECT_EQ(corrupt.load(), 0u) << "a vCPU read something other than its value or zero";
  EXPECT_EQ(t.fault_errors(), 0u);
  EXPECT_GT(released, 0u);
  EXPECT_GT(t.guest().stats().faults, 10u);
  auto st = t.mm().check_invariants();
  EXPECT_TRUE(st) << st.error().message();
}

// Without and with a hot list (freed frames kept resident, zapped from the window), with
// scrubbing inline and on the scrubber thread, and with releases that defer the unmap.
INSTANTIATE_TEST_SUITE_P(Modes, RaceTest,
                         ::testing::Values(RaceParams{0, false, false}, RaceParams{256, false, false},
                                           RaceParams{0, true, false}, RaceParams{256, true, false},
                                           RaceParams{0, true, true}));

}  // namespace
}  // namespace tide::test
