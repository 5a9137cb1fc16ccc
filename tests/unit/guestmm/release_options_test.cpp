// Unit: release options — only_frameless (a balloon deflate) turns frameless pages Empty
// and leaves a page the guest touched again with its frame.
#include "mm_fixture.hpp"

namespace tide::gmm::fake {
namespace {

class ReleaseOptionsTest : public MmTest {};

TEST_F(ReleaseOptionsTest, OnlyFramelessLeavesTouchedPagesAlone) {
  make(8 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  for (uint64_t p = 0; p < 16; ++p) TIDE_ASSERT_OK(touch(*g, Gfn(p), 9));
  // Inflate pages 0..15, then the guest touches page 3 again (no MUST_TELL_HOST).
  TIDE_ASSERT_OK(g->release_range(Gfn(0), 16, PageState::ballooned));
  TIDE_ASSERT_OK(touch(*g, Gfn(3), 4));
  EXPECT_EQ(state_of(g, Gfn(3)), PageState::present);
  // Deflate all 16: page 3 keeps its frame and its bytes; the others become Empty.
  ReleaseOptions deflate;
  deflate.only_frameless = true;
  auto r = g->release_range(Gfn(0), 16, PageState::empty, deflate);
  TIDE_ASSERT_OK(r);
  EXPECT_EQ(r->kept, 1u);
  EXPECT_EQ(r->released, 0u);
  EXPECT_EQ(r->frameless, 15u);
  EXPECT_EQ(state_of(g, Gfn(3)), PageState::present);
  EXPECT_EQ(*read(*g, Gfn(3)), 4);
  EXPECT_EQ(state_of(g, Gfn(0)), PageState::empty);
  EXPECT_EQ(*read(*g, Gfn(0)), 0);
  TIDE_ASSERT_OK(check());
}

}  // namespace
}  // namespace tide::gmm::fake
