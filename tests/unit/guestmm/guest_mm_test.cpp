// Unit: GuestMm over the fake host — fault-around, single-page faults, release (zeroes,
// coalescing, hot frames), the window reuse hint, counters, and MemoryManager without a
// fault server. Every test ends with the full audit (MmTest::TearDown).
#include <gtest/gtest.h>

#include <vector>

#include "mm_fixture.hpp"

namespace tide::gmm::fake {
namespace {

using GuestMmTest = MmTest;

TEST_F(GuestMmTest, FirstTouchMapsAWholeExtent) {
  make(16 * kMiB);
  GuestMm* g = add("g", 8 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(5), 0xaa));
  TIDE_ASSERT_OK(check());
  const GuestMmStats s = g->stats();
  EXPECT_EQ(s.faults, 1u);
  EXPECT_EQ(s.fault_around, 1u);
  EXPECT_EQ(s.resident_frames, 512u);
  EXPECT_EQ(s.window_remaps, 1u);
  EXPECT_EQ(host.calls(HostOp::map_frames), 1u);
  EXPECT_EQ(host.calls(HostOp::fill_zero), 1u);
  // One aligned 2 MiB block, in order.
  const Mfn head = mfn_of(g, Gfn(0));
  EXPECT_EQ(head.value() % kPagesPerExtent, 0u);
  for (uint64_t i = 0; i < kPagesPerExtent; ++i) {
    ASSERT_EQ(state_of(g, Gfn(i)), PageState::present);
    ASSERT_EQ(mfn_of(g, Gfn(i)), head + i);
  }
  EXPECT_EQ(state_of(g, Gfn(512)), PageState::empty);
  // The neighbours were filled too: reading them faults no more.
  EXPECT_EQ(*read(*g, Gfn(6)), 0u);
  EXPECT_EQ(*read(*g, Gfn(511)), 0u);
  EXPECT_EQ(*read(*g, Gfn(5)), 0xaau);
  EXPECT_EQ(g->stats().faults, 1u);
  EXPECT_EQ(mm->stats().used_frames, 512u);
  EXPECT_EQ(pool().present_pages(), 512u);
}

TEST_F(GuestMmTest, PartialLastExtentFaultsOnePage) {
  make(16 * kMiB);
  GuestMm* g = add("g", 2 * kMiB + 2 * kPageSize);
  TIDE_ASSERT_OK(touch(*g, Gfn(513), 1));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(g->stats().fault_around, 0u);
  EXPECT_EQ(g->stats().resident_frames, 1u);
  EXPECT_EQ(host.calls(HostOp::map_frames), 1u);
  EXPECT_EQ(state_of(g, Gfn(512)), PageState::empty);
  TIDE_ASSERT_OK(touch(*g, Gfn(512), 2));
  EXPECT_EQ(g->stats().resident_frames, 2u);
  EXPECT_EQ(*read(*g, Gfn(513)), 1u);
}

TEST_F(GuestMmTest, ReleasedPagesReadZeroAndOthersKeepTheirBytes) {
  make(16 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  for (uint64_t i = 0; i < 20; ++i) TIDE_ASSERT_OK(touch(*g, Gfn(i * 50), static_cast<uint8_t>(i + 1)));
  TIDE_ASSERT_OK(check());
  const std::vector<Gfn> gone{Gfn(50), Gfn(150), Gfn(600), Gfn(950)};
  auto r = g->release(gone, PageState::empty);
  TIDE_ASSERT_OK(r);
  EXPECT_EQ(r->released, 4u);
  EXPECT_EQ(g->stats().resident_frames, 1024u - 4);
  TIDE_ASSERT_OK(check());
  for (Gfn x : gone) EXPECT_EQ(state_of(g, x), PageState::empty);
  for (uint64_t i = 0; i < 20; ++i) {
    const Gfn x(i * 50);
    const bool released = std::find(gone.begin(), gone.end(), x) != gone.end();
    auto v = read(*g, x);
    TIDE_ASSERT_OK(v);
    EXPECT_EQ(*v, released ? 0u : i + 1) << "GFN " << x.value();
    TIDE_ASSERT_OK(check());
  }
  EXPECT_EQ(g->stats().resident_frames, 1024u);
  EXPECT_EQ(g->stats().frames_released, 4u);
}

TEST_F(GuestMmTest, ReleasingAWholeExtentPunchesOneRange) {
  make(16 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 9));
  const Mfn block = mfn_of(g, Gfn(0));
  const uint64_t calls = pool().punch_calls(), invocations = pool().punch_invocations();
  auto r = g->release_range(Gfn(0), kPagesPerExtent, PageState::empty);
  TIDE_ASSERT_OK(r);
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(r->released, kPagesPerExtent);
  EXPECT_EQ(r->punched_ranges, 1u);
  EXPECT_EQ(pool().punch_calls(), calls + 1);
  EXPECT_EQ(pool().punch_invocations(), invocations + 1);
  ASSERT_EQ(pool().last_punch().size(), 1u);
  EXPECT_EQ(pool().last_punch()[0], (host::ByteRange{block.value() << kPageShift, kExtentSize}));
  EXPECT_EQ(pool().present_pages(), 0u);
  EXPECT_EQ(mm->stats().resident_bytes, 0u);
  EXPECT_EQ(mm->stats().free_frames, mm->stats().total_frames);

  // The window still views that block: faulting the extent back takes the same block and
  // needs no window change.
  const uint64_t maps = host.calls(HostOp::map_frames);
  TIDE_ASSERT_OK(touch(*g, Gfn(100), 3));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(mfn_of(g, Gfn(0)), block);
  EXPECT_EQ(g->stats().fault_around, 2u);
  EXPECT_EQ(g->stats().window_remaps, 1u);
  EXPECT_EQ(host.calls(HostOp::map_frames), maps);
  EXPECT_EQ(*read(*g, Gfn(0)), 0u);
}

TEST_F(GuestMmTest, ReleasingEveryOtherPagePunchesManyRangesInOneCall) {
  make(16 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 9));
  std::vector<Gfn> even;
  for (uint64_t i = 0; i < kPagesPerExtent; i += 2) even.push_back(Gfn(i));
  const uint64_t calls = pool().punch_calls(), invocations = pool().punch_invocations();
  auto r = g->release(even, PageState::reported);
  TIDE_ASSERT_OK(r);
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(r->released, 256u);
  EXPECT_EQ(r->punched_ranges, 256u);
  EXPECT_EQ(pool().punch_invocations(), invocations + 1);
  EXPECT_EQ(pool().punch_calls(), calls + 256);
  const auto last = pool().last_punch();
  ASSERT_EQ(last.size(), 256u);
  for (const auto& range : last) EXPECT_EQ(range.len, kPageSize);
  EXPECT_EQ(pool().present_pages(), 256u);
  EXPECT_EQ(state_of(g, Gfn(2)), PageState::reported);
  EXPECT_EQ(state_of(g, Gfn(3)), PageState::present);
  EXPECT_EQ(g->stats().resident_frames, 256u);
}

TEST_F(GuestMmTest, RefaultReusesTheFrameTheWindowViews) {
  make(16 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 1));
  const uint64_t remaps = g->stats().window_remaps, maps = host.calls(HostOp::map_frames);
  // One page (its frame goes to the guest's cache) and a larger set (to the pool).
  for (uint64_t n : {uint64_t{1}, uint64_t{3}, uint64_t{40}, uint64_t{200}}) {
    SCOPED_TRACE(n);
    std::vector<Gfn> pages;
    std::vector<Mfn> frames;
    for (uint64_t i = 0; i < n; ++i) {
      pages.push_back(Gfn(10 + 2 * i));
      frames.push_back(mfn_of(g, pages.back()));
      TIDE_ASSERT_OK(touch(*g, pages.back(), 0x5a));
    }
    TIDE_ASSERT_OK(g->release(pages, PageState::empty));
    TIDE_ASSERT_OK(check());
    for (uint64_t i = 0; i < n; ++i) {
      EXPECT_EQ(*read(*g, pages[i]), 0u);
      EXPECT_EQ(mfn_of(g, pages[i]), frames[i]);
    }
    TIDE_ASSERT_OK(check());
    EXPECT_EQ(g->stats().window_remaps, remaps);
    EXPECT_EQ(host.calls(HostOp::map_frames), maps);
  }
}

TEST_F(GuestMmTest, RefillWhenThePteWasDropped) {
  make(16 * kMiB);
  GuestMm* g = add("g", 2 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(7), 0x42));
  // As aging does: drop the PTE, keep the data.
  const host::ByteRange r{7 * kPageSize, kPageSize};
  TIDE_ASSERT_OK(FakeWindow::of(*g).zap(std::span(&r, 1)));
  EXPECT_FALSE(FakeWindow::of(*g).has_pte(7));
  EXPECT_EQ(*read(*g, Gfn(7)), 0x42u);
  EXPECT_EQ(g->stats().refills, 1u);
  EXPECT_EQ(g->stats().faults, 1u);
  EXPECT_EQ(host.calls(HostOp::fill_present), 1u);
  TIDE_ASSERT_OK(check());
}

TEST_F(GuestMmTest, HotFramesStayResidentAndReachAnotherGuestZeroed) {
  make(4 * kMiB, /*hot_frames=*/16);
  GuestMm* a = add("a", 2 * kMiB);
  GuestMm* b = add("b", 4 * kMiB);
  for (uint64_t i = 0; i < 12; ++i) TIDE_ASSERT_OK(touch(*a, Gfn(i), static_cast<uint8_t>(0x10 + i)));
  TIDE_ASSERT_OK(touch(*b, Gfn(0), 0xbb));
  EXPECT_EQ(mm->stats().free_frames, 0u);
  TIDE_ASSERT_OK(check());

  const uint64_t punches = pool().punch_invocations(), zaps = host.calls(HostOp::zap);
  std::vector<Gfn> gone;
  for (uint64_t i = 0; i < 10; ++i) gone.push_back(Gfn(i));
  auto r = a->release(gone, PageState::empty);
  TIDE_ASSERT_OK(r);
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(r->released, 10u);
  EXPECT_EQ(r->punched_ranges, 0u);
  EXPECT_EQ(mm->stats().hot_frames, 10u);
  EXPECT_EQ(pool().punch_invocations(), punches);  // nothing punched...
  EXPECT_EQ(host.calls(HostOp::zap), zaps + 1);    // ...but the PTEs were dropped, in one call
  EXPECT_EQ(pool().present_pages(), 1024u);        // still resident
  for (uint64_t i = 0; i < 10; ++i) EXPECT_FALSE(FakeWindow::of(*a).has_pte(i));

  // The pool is empty: b's next fault gets a hot frame, zeroed.
  auto v = read(*b, Gfn(512));
  TIDE_ASSERT_OK(v);
  EXPECT_EQ(*v, 0u);
  EXPECT_EQ(b->stats().hot_reuses, 1u);
  EXPECT_EQ(mm->stats().hot_frames, 9u);
  TIDE_ASSERT_OK(touch(*b, Gfn(512), 0x77));
  TIDE_ASSERT_OK(check());

  // a gets the other hot frames back, zeroed too, and never b's page.
  for (uint64_t i = 0; i < 9; ++i) {
    auto x = read(*a, Gfn(i));
    TIDE_ASSERT_OK(x);
    EXPECT_EQ(*x, 0u) << i;
    TIDE_ASSERT_OK(check());
  }
  EXPECT_EQ(*read(*a, Gfn(10)), 0x1au);
  EXPECT_EQ(*read(*b, Gfn(512)), 0x77u);
  EXPECT_EQ(*read(*b, Gfn(0)), 0xbbu);
  EXPECT_EQ(mm->stats().hot_frames, 0u);
}

TEST_F(GuestMmTest, DuplicatesAndNonRamGfnsAreCounted) {
  make(16 * kMiB);
  const Gfn high(4 * kGiB / kPageSize);
  GuestMm* g = add("g", {RamRange{Gpa(0), 2 * kMiB}, RamRange{gpa_of(high), 2 * kMiB}});
  TIDE_ASSERT_OK(touch(*g, Gfn(1), 1));
  TIDE_ASSERT_OK(touch(*g, high + 1, 2));
  EXPECT_EQ(g->stats().resident_frames, 1024u);
  const std::vector<Gfn> req{Gfn(1), Gfn(1), Gfn(2), Gfn(600), high + 1, high + 1, high + 1, Gfn(UINT32_MAX)};
  auto r = g->release(req, PageState::ballooned);
  TIDE_ASSERT_OK(r);
  EXPECT_EQ(r->requested, 8u);
  EXPECT_EQ(r->outside, 2u);
  EXPECT_EQ(r->duplicates, 3u);
  EXPECT_EQ(r->released, 3u);
  EXPECT_EQ(r->frameless, 0u);
  EXPECT_EQ(g->stats().resident_frames, 1021u);
  TIDE_ASSERT_OK(check());
  // Again: nothing left to take, the states are already there.
  r = g->release(req, PageState::ballooned);
  TIDE_ASSERT_OK(r);
  EXPECT_EQ(r->released, 0u);
  EXPECT_EQ(r->frameless, 3u);
  // A range running off the end of RAM.
  r = g->release_range(Gfn(510), 4, PageState::empty);
  TIDE_ASSERT_OK(r);
  EXPECT_EQ(r->requested, 4u);
  EXPECT_EQ(r->outside, 2u);
  EXPECT_EQ(r->released, 2u);
  EXPECT_EQ(g->stats().release_calls, 3u);
  EXPECT_EQ(g->stats().frames_released, 5u);
  TIDE_ASSERT_OK(check());
}

TEST_F(GuestMmTest, ReleaseKeepsTheTargetState) {
  make(16 * kMiB);
  GuestMm* g = add("g", 2 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 1));
  TIDE_ASSERT_OK(g->release_range(Gfn(1), 1, PageState::ballooned));
  TIDE_ASSERT_OK(g->release_range(Gfn(2), 1, PageState::reported));
  EXPECT_EQ(state_of(g, Gfn(1)), PageState::ballooned);
  EXPECT_EQ(state_of(g, Gfn(2)), PageState::reported);
  // A frameless page changes state but keeps its hint.
  const auto hint = g->p2m().load(1).window_frame();
  ASSERT_TRUE(hint);
  auto r = g->release_range(Gfn(1), 1, PageState::empty);
  TIDE_ASSERT_OK(r);
  EXPECT_EQ(r->frameless, 1u);
  EXPECT_EQ(state_of(g, Gfn(1)), PageState::empty);
  EXPECT_EQ(g->p2m().load(1).window_frame(), hint);
  for (PageState bad : {PageState::present, PageState::shared, PageState::swapped, PageState::foreign}) {
    auto e = g->release_range(Gfn(3), 1, bad);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, std::errc::invalid_argument);
  }
  EXPECT_EQ(state_of(g, Gfn(3)), PageState::present);
  EXPECT_EQ(*read(*g, Gfn(2)), 0u);
  TIDE_ASSERT_OK(check());
}

TEST_F(GuestMmTest, FaultAroundLeavesBalloonedPagesAlone) {
  make(16 * kMiB);
  GuestMm* g = add("g", 2 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 1));
  // The balloon takes the whole extent, then gives one page back.
  TIDE_ASSERT_OK(g->release_range(Gfn(0), kPagesPerExtent, PageState::ballooned));
  TIDE_ASSERT_OK(g->release_range(Gfn(0), 1, PageState::empty));
  EXPECT_EQ(g->stats().resident_frames, 0u);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 2));
  TIDE_ASSERT_OK(check());
  // Only the page the guest may use came back; the ballooned ones stay given away.
  EXPECT_EQ(g->stats().resident_frames, 1u);
  EXPECT_EQ(state_of(g, Gfn(1)), PageState::ballooned);
  EXPECT_EQ(state_of(g, Gfn(511)), PageState::ballooned);
  EXPECT_EQ(pool().present_pages(), 1u);
}

TEST_F(GuestMmTest, FaultOutsideTheWindowIsRefused) {
  make(16 * kMiB);
  GuestMm* g = add("g", 2 * kMiB);
  auto st = g->handle_fault(host::WindowFault{2 * kMiB, true, false});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, std::errc::bad_address);
  EXPECT_FALSE(touch(*g, Gfn(512), 1));
  EXPECT_EQ(g->stats().faults, 0u);
}

TEST_F(GuestMmTest, RegionsCoverTheRamRangesInWindowOrder) {
  make(16 * kMiB);
  GuestMm* g = add("g", {RamRange{Gpa(0), 2 * kMiB}, RamRange{Gpa(4 * kGiB), 4 * kMiB}});
  const auto regions = g->regions();
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].base, Gpa(0));
  EXPECT_EQ(regions[0].host, g->window().base());
  EXPECT_EQ(regions[1].base, Gpa(4 * kGiB));
  EXPECT_EQ(regions[1].size_bytes, 4 * kMiB);
  EXPECT_EQ(regions[1].host, g->window().base() + 2 * kMiB);
  EXPECT_EQ(g->memory().total_bytes(), 6 * kMiB);
  EXPECT_EQ(g->size_bytes(), 6 * kMiB);
}

TEST_F(GuestMmTest, RemovingAGuestReturnsEveryFrame) {
  make(16 * kMiB, /*hot_frames=*/8);
  GuestMm* a = add("a", 8 * kMiB);
  GuestMm* b = add("b", 4 * kMiB);
  for (uint64_t i = 0; i < 2048; i += 300) TIDE_ASSERT_OK(touch(*a, Gfn(i), 1));
  TIDE_ASSERT_OK(touch(*b, Gfn(3), 2));
  TIDE_ASSERT_OK(a->release_range(Gfn(0), 5, PageState::empty));  // some hot, some cached
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(mm->stats().guests, 2u);
  remove(a);
  TIDE_ASSERT_OK(check());
  const PoolStats s = mm->stats();
  EXPECT_EQ(s.guests, 1u);
  EXPECT_EQ(s.used_frames, 512u);
  EXPECT_EQ(s.cached_frames, 0u);
  EXPECT_EQ(pool().present_pages(), 512u + s.hot_frames);
  // The id is free again.
  GuestMm* c = add("c", 2 * kMiB);
  EXPECT_EQ(c->id(), 1u);
  EXPECT_EQ(b->id(), 2u);
  TIDE_ASSERT_OK(touch(*c, Gfn(0), 3));
  EXPECT_EQ(*read(*b, Gfn(3)), 2u);
}

TEST_F(GuestMmTest, ManagerWithoutFaultServer) {
  MemoryManagerOptions o;
  o.pool_bytes = 3 * kMiB;  // rounded up to whole extents
  o.fault_server = false;
  auto r = MemoryManager::create(host, o);
  TIDE_ASSERT_OK(r);
  mm = std::move(*r);
  EXPECT_EQ(mm->pool_bytes(), 4 * kMiB);
  EXPECT_EQ(mm->stats().total_frames, 1024u);
  EXPECT_EQ(mm->stats().guests, 0u);
  TIDE_ASSERT_OK(mm->check_invariants());
  // Faults are driven by hand, through the window's queue as the fault server would.
  GuestMm* g = add("g", 2 * kMiB);
  FakeWindow::of(*g).push_fault(host::WindowFault{kPageSize * 3, true, false});
  auto f = g->window().read_fault();
  TIDE_ASSERT_OK(f);
  ASSERT_TRUE(*f);
  TIDE_ASSERT_OK(g->handle_fault(**f));
  auto none = g->window().read_fault();
  TIDE_ASSERT_OK(none);
  EXPECT_FALSE(*none);
  EXPECT_EQ(g->stats().resident_frames, 512u);
  EXPECT_EQ(g->window().fault_fd(), -1);
}

TEST_F(GuestMmTest, TinyPoolIsOneExtent) {
  MemoryManagerOptions o;
  o.pool_bytes = 0;
  o.fault_server = false;
  auto r = MemoryManager::create(host, o);
  TIDE_ASSERT_OK(r);
  mm = std::move(*r);
  EXPECT_EQ(mm->pool_bytes(), kExtentSize);
}

TEST_F(GuestMmTest, TouchInAnExtentWithAFrameMapsOnePage) {
  make(4 * kMiB);
  GuestMm* a = add("a", 2 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  TIDE_ASSERT_OK(touch(*a, Gfn(0), 1));
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 2));
  // a gives back scattered frames: free again, but no 2 MiB block.
  std::vector<Gfn> odd;
  for (uint64_t i = 1; i < 200; i += 2) odd.push_back(Gfn(i));
  TIDE_ASSERT_OK(a->release(odd, PageState::empty));
  const uint64_t maps = host.calls(HostOp::map_frames);
  TIDE_ASSERT_OK(touch(*g, Gfn(600), 3));  // no block: the page alone
  EXPECT_EQ(g->stats().fault_around, 1u);
  EXPECT_EQ(g->stats().resident_frames, 513u);
  EXPECT_EQ(host.calls(HostOp::map_frames), maps + 1);
  TIDE_ASSERT_OK(touch(*g, Gfn(601), 4));  // the extent has a frame now: one page again
  EXPECT_EQ(g->stats().fault_around, 1u);
  EXPECT_EQ(g->stats().resident_frames, 514u);
  EXPECT_EQ(host.calls(HostOp::map_frames), maps + 2);
  EXPECT_EQ(state_of(g, Gfn(602)), PageState::empty);
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(*read(*g, Gfn(600)), 3u);
  EXPECT_EQ(*read(*g, Gfn(601)), 4u);
}

TEST_F(GuestMmTest, RetiredWindowFaultsNothingAndAuditsClean) {
  make(8 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(3), 7));
  TIDE_ASSERT_OK(g->retire_window());
  EXPECT_TRUE(g->retired());
  // The frames are still the guest's until it is removed; the audit must not count the
  // window's new (anonymous) view against it.
  TIDE_ASSERT_OK(check());
  // Blocked faulters are let through to throwaway memory; nothing is allocated.
  TIDE_ASSERT_OK(g->handle_fault(host::WindowFault{600 * kPageSize, true, false}));
  TIDE_ASSERT_OK(touch(*g, Gfn(600), 1));
  EXPECT_EQ(*read(*g, Gfn(3)), 0u);
  EXPECT_EQ(g->stats().resident_frames, 512u);
  EXPECT_EQ(state_of(g, Gfn(600)), PageState::empty);
  TIDE_ASSERT_OK(g->release_range(Gfn(0), 10, PageState::empty));
  TIDE_ASSERT_OK(check());
  remove(g);
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(mm->stats().free_frames + mm->stats().hot_frames, mm->stats().total_frames);
}

TEST_F(GuestMmTest, BadRamRangesAreRefused) {
  make(4 * kMiB);
  auto r = mm->add_guest("bad", {RamRange{Gpa(0x800), kMiB}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::invalid_argument);
  EXPECT_EQ(mm->stats().guests, 0u);
}

}  // namespace
}  // namespace tide::gmm::fake
