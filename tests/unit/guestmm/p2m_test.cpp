// Unit: P2mEntry encoding (states, frames, window hints) and P2m indexing over RAM ranges.
#include <gtest/gtest.h>

#include "guestmm/p2m.hpp"

namespace tide::gmm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(P2mEntry, ZeroIsEmptyWithoutHint) {
  P2mEntry e;
  EXPECT_EQ(e.raw(), 0u);
  EXPECT_EQ(e.state(), PageState::empty);
  EXPECT_FALSE(e.has_frame());
  EXPECT_FALSE(e.window_frame());
  EXPECT_EQ(P2mEntry::frameless(PageState::empty, std::nullopt), e);
}

TEST(P2mEntry, PresentCarriesItsFrame) {
  for (uint64_t m : {uint64_t{0}, uint64_t{1}, uint64_t{12345}, (uint64_t{1} << 32) - 2}) {
    const P2mEntry e = P2mEntry::present(Mfn(m));
    EXPECT_EQ(e.state(), PageState::present);
    EXPECT_TRUE(e.has_frame());
    EXPECT_EQ(e.mfn(), Mfn(m));
    EXPECT_EQ(e.window_frame(), Mfn(m));
    EXPECT_EQ(P2mEntry(e.raw()), e);
  }
}

TEST(P2mEntry, FramelessStatesKeepTheWindowHint) {
  for (PageState s : {PageState::empty, PageState::ballooned, PageState::reported}) {
    SCOPED_TRACE(page_state_name(s));
    // Frame 0 is a real hint, distinct from "no hint".
    const P2mEntry zero = P2mEntry::frameless(s, Mfn(0));
    EXPECT_EQ(zero.state(), s);
    EXPECT_FALSE(zero.has_frame());
    ASSERT_TRUE(zero.window_frame());
    EXPECT_EQ(*zero.window_frame(), Mfn(0));
    const P2mEntry none = P2mEntry::frameless(s, std::nullopt);
    EXPECT_EQ(none.state(), s);
    EXPECT_FALSE(none.window_frame());
    EXPECT_NE(zero, none);
    const P2mEntry far = P2mEntry::frameless(s, Mfn(777777));
    EXPECT_EQ(far.window_frame(), Mfn(777777));
  }
}

TEST(P2mEntry, SwappedAndForeignHaveNoWindowFrame) {
  // Their payload is a swap slot or a grant reference, not a frame.
  EXPECT_FALSE(P2mEntry::frameless(PageState::swapped, Mfn(5)).window_frame());
  EXPECT_FALSE(P2mEntry::frameless(PageState::foreign, Mfn(5)).window_frame());
  const P2mEntry shared = P2mEntry((uint64_t{42} << 4) | uint64_t(PageState::shared));
  EXPECT_TRUE(shared.has_frame());
  EXPECT_EQ(shared.mfn(), Mfn(42));
}

TEST(P2mEntry, StateNames) {
  EXPECT_STREQ(page_state_name(PageState::empty), "empty");
  EXPECT_STREQ(page_state_name(PageState::present), "present");
  EXPECT_STREQ(page_state_name(PageState::ballooned), "ballooned");
  EXPECT_STREQ(page_state_name(PageState::reported), "reported");
  EXPECT_STREQ(page_state_name(PageState::swapped), "swapped");
  EXPECT_STREQ(page_state_name(PageState::foreign), "foreign");
  EXPECT_STREQ(page_state_name(PageState::shared), "shared");
}

// The usual x86 layout: RAM below the 3 GiB hole, the rest from 4 GiB.
class P2mTwoRanges : public ::testing::Test {
 protected:
  static P2m make() {
    auto p = P2m::create({RamRange{Gpa(0), 3 * kGiB}, RamRange{Gpa(4 * kGiB), 1 * kGiB + 12 * 4096}});
    EXPECT_TRUE(p);
    return std::move(*p);
  }
  P2m p2m = make();
  static constexpr uint64_t kLowPages = 3 * kGiB / 4096;
};

TEST_F(P2mTwoRanges, Sizes) {
  EXPECT_EQ(p2m.nr_pages(), kLowPages + kGiB / 4096 + 12);
  EXPECT_EQ(p2m.nr_extents(), (3 * kGiB + kGiB) / (2 * kMiB) + 1);
  EXPECT_EQ(p2m.ranges().size(), 2u);
}

TEST_F(P2mTwoRanges, IndexOfAndGfnAtAreInverse) {
  EXPECT_EQ(p2m.index_of(Gfn(0)), 0u);
  EXPECT_EQ(p2m.index_of(Gfn(kLowPages - 1)), kLowPages - 1);
  EXPECT_FALSE(p2m.index_of(Gfn(kLowPages)));          // the hole
  EXPECT_FALSE(p2m.index_of(Gfn(4 * kGiB / 4096 - 1)));  // last page of the hole
  EXPECT_EQ(p2m.index_of(Gfn(4 * kGiB / 4096)), kLowPages);
  EXPECT_EQ(p2m.index_of(Gfn(4 * kGiB / 4096 + 5)), kLowPages + 5);
  EXPECT_EQ(p2m.index_of(gfn_of(Gpa(5 * kGiB + 11 * 4096))), p2m.nr_pages() - 1);
  EXPECT_FALSE(p2m.index_of(gfn_of(Gpa(5 * kGiB + 12 * 4096))));  // one past the end
  EXPECT_FALSE(p2m.index_of(Gfn(UINT64_MAX >> 12)));

  for (uint64_t i : {uint64_t{0}, uint64_t{1}, kLowPages - 1, kLowPages, kLowPages + 1, p2m.nr_pages() - 1}) {
    const Gfn g = p2m.gfn_at(i);
    EXPECT_EQ(p2m.index_of(g), i) << i;
  }
  EXPECT_EQ(p2m.gfn_at(kLowPages), Gfn(4 * kGiB / 4096));
  EXPECT_EQ(p2m.gfn_at(kLowPages - 1), Gfn(kLowPages - 1));
}

TEST_F(P2mTwoRanges, ExtentPagesOfThePartialLastExtent) {
  EXPECT_EQ(p2m.extent_pages(0), kPagesPerExtent);
  EXPECT_EQ(p2m.extent_pages(p2m.nr_extents() - 2), kPagesPerExtent);
  EXPECT_EQ(p2m.extent_pages(p2m.nr_extents() - 1), 12u);
}

TEST_F(P2mTwoRanges, StoreLoadAndLocks) {
  const uint64_t last = p2m.nr_pages() - 1;
  EXPECT_EQ(p2m.load(last), P2mEntry());
  {
    std::lock_guard l(p2m.extent_lock(last / kPagesPerExtent));
    p2m.store(last, P2mEntry::present(Mfn(9)));
  }
  EXPECT_EQ(p2m.load(last).mfn(), Mfn(9));
  EXPECT_NE(&p2m.extent_lock(0), &p2m.extent_lock(1));
}

TEST(P2m, RangesMustBeAlignedSortedDisjointAndNonEmpty) {
  EXPECT_FALSE(P2m::create({}));
  EXPECT_FALSE(P2m::create({RamRange{Gpa(0), 0}}));
  EXPECT_FALSE(P2m::create({RamRange{Gpa(0x800), 4096}}));
  EXPECT_FALSE(P2m::create({RamRange{Gpa(0), 4096 + 1}}));
  EXPECT_FALSE(P2m::create({RamRange{Gpa(8 * kMiB), kMiB}, RamRange{Gpa(0), kMiB}}));  // unsorted
  EXPECT_FALSE(P2m::create({RamRange{Gpa(0), 2 * kMiB}, RamRange{Gpa(kMiB), kMiB}}));  // overlap
  EXPECT_TRUE(P2m::create({RamRange{Gpa(0), kMiB}, RamRange{Gpa(kMiB), kMiB}}));      // touching
}

TEST(P2m, RangesSplitInsideAnExtent) {
  // Window order ignores GPA gaps: extent 0 holds the 3 MiB range's first 2 MiB, extent 1
  // its last MiB and the first MiB of the next range.
  auto p = P2m::create({RamRange{Gpa(0), 3 * kMiB}, RamRange{Gpa(16 * kMiB), 2 * kMiB}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->nr_extents(), 3u);
  EXPECT_EQ(p->extent_pages(2), 256u);
  EXPECT_EQ(p->gfn_at(768), Gfn(16 * kMiB / 4096));
  EXPECT_EQ(p->index_of(Gfn(16 * kMiB / 4096 + 1)), 769u);
}

}  // namespace
}  // namespace tide::gmm
