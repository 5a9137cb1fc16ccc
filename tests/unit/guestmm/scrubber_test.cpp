// Unit: deferred scrubbing — release leaves the punching to the scrubber thread, frames in
// its queue are accounted and unreachable, flush() returns them clean, a faulting guest
// under pressure waits for them, and guest_keeps_off defers the PTE zap until the punch
// or until the page is made Empty again.
#include "mm_fixture.hpp"

namespace tide::gmm::fake {
namespace {

class ScrubberTest : public MmTest {
 protected:
  void make_async(uint64_t pool_bytes, uint64_t hot_frames = 0) {
    MemoryManagerOptions o;
    o.pool_bytes = pool_bytes;
    o.hot_frames = hot_frames;
    o.fault_server = false;
    o.async_scrub = true;
    auto r = MemoryManager::create(host, o);
    ASSERT_TRUE(r) << r.error().message();
    mm = std::move(*r);
  }
  bool has_pte(GuestMm* g, Gfn gfn) {
    return dynamic_cast<FakeWindow&>(g->window()).has_pte(*g->p2m().index_of(gfn));
  }
};

TEST_F(ScrubberTest, ReleaseQueuesFramesAndFlushReturnsThemClean) {
  make_async(8 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  for (uint64_t p = 0; p < 1024; ++p) TIDE_ASSERT_OK(touch(*g, Gfn(p), 7));
  const uint64_t host_before = pool().resident_bytes();
  mm->scrubber().pause(true);
  auto r = g->release_range(Gfn(0), 512, PageState::ballooned);
  TIDE_ASSERT_OK(r);
  EXPECT_EQ(r->released, 512u);
  EXPECT_EQ(r->punched_ranges, 0u);  // left to the scrubber
  EXPECT_EQ(mm->stats().scrubbing_frames, 512u);
  EXPECT_EQ(pool().resident_bytes(), host_before);  // not returned yet...
  for (uint64_t p = 0; p < 512; ++p) EXPECT_FALSE(has_pte(g, Gfn(p))) << p;  // ...but unreachable
  TIDE_ASSERT_OK(check());  // queued frames are accounted for
  TIDE_ASSERT_OK(mm->scrubber().flush());
  EXPECT_EQ(mm->stats().scrubbing_frames, 0u);
  EXPECT_EQ(mm->scrubber().scrubbed_frames(), 512u);
  EXPECT_EQ(pool().resident_bytes(), host_before - 512 * kPageSize);
  TIDE_ASSERT_OK(check());
  // The released pages refault as zeroes; the others kept their bytes.
  EXPECT_EQ(*read(*g, Gfn(3)), 0);
  EXPECT_EQ(*read(*g, Gfn(600)), 7);
  mm->scrubber().pause(false);
}

TEST_F(ScrubberTest, TheThreadScrubsWithoutBeingAsked) {
  make_async(8 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  for (uint64_t p = 0; p < 512; ++p) TIDE_ASSERT_OK(touch(*g, Gfn(p), 1));
  TIDE_ASSERT_OK(g->release_range(Gfn(0), 512, PageState::ballooned));
  while (mm->scrubber().pending() > 0) std::this_thread::yield();
  EXPECT_EQ(mm->scrubber().scrubbed_frames(), 512u);
  TIDE_ASSERT_OK(check());
}

TEST_F(ScrubberTest, AFaultUnderPressureWaitsForTheScrubber) {
  make_async(4 * kMiB);
  GuestMm* a = add("a", 4 * kMiB);
  GuestMm* b = add("b", 4 * kMiB);
  for (uint64_t p = 0; p < 1024; ++p) TIDE_ASSERT_OK(touch(*a, Gfn(p), 3));  // the whole pool
  mm->scrubber().pause(true);
  TIDE_ASSERT_OK(a->release_range(Gfn(0), 1024, PageState::ballooned));
  EXPECT_EQ(mm->stats().free_frames, 0u);
  // b finds no free frame, but the scrubber holds 1024: the fault waits for them.
  TIDE_ASSERT_OK(touch(*b, Gfn(10), 9));
  EXPECT_EQ(*read(*b, Gfn(10)), 9);
  EXPECT_EQ(mm->stats().scrubbing_frames, 0u);
  TIDE_ASSERT_OK(check());
  mm->scrubber().pause(false);
}

TEST_F(ScrubberTest, GuestKeepsOffDefersTheZapUntilEmptyOrScrubbed) {
  make_async(8 * kMiB);
  GuestMm* g = add("g", 4 * kMiB);
  for (uint64_t p = 0; p < 512; ++p) TIDE_ASSERT_OK(touch(*g, Gfn(p), 5));
  mm->scrubber().pause(true);
  ReleaseOptions keep_off;
  keep_off.guest_keeps_off = true;
  TIDE_ASSERT_OK(g->release_range(Gfn(0), 512, PageState::ballooned, keep_off));
  // The PTEs are still there (the guest promised not to use them)...
  EXPECT_TRUE(has_pte(g, Gfn(0)));
  EXPECT_TRUE(has_pte(g, Gfn(100)));
  TIDE_ASSERT_OK(check());
  // ...until the guest takes a page back: making it Empty drops its PTE at once.
  TIDE_ASSERT_OK(g->release_range(Gfn(0), 1, PageState::empty));
  EXPECT_FALSE(has_pte(g, Gfn(0)));
  EXPECT_TRUE(has_pte(g, Gfn(100)));
  EXPECT_EQ(*read(*g, Gfn(0)), 0);  // a fresh frame, not the old bytes
  // The scrubber's punch removes the rest.
  TIDE_ASSERT_OK(mm->scrubber().flush());
  EXPECT_FALSE(has_pte(g, Gfn(100)));
  TIDE_ASSERT_OK(check());
  mm->scrubber().pause(false);
}

TEST_F(ScrubberTest, HotFramesAreZappedEvenWhenTheGuestKeepsOff) {
  make_async(8 * kMiB, /*hot_frames=*/16);
  GuestMm* a = add("a", 4 * kMiB);
  for (uint64_t p = 0; p < 512; ++p) TIDE_ASSERT_OK(touch(*a, Gfn(p), 0x42));
  mm->scrubber().pause(true);
  ReleaseOptions keep_off;
  keep_off.guest_keeps_off = true;
  TIDE_ASSERT_OK(a->release_range(Gfn(0), 512, PageState::ballooned, keep_off));
  EXPECT_EQ(mm->stats().hot_frames, 16u);
  // A hot frame may go to another guest at once: a's PTEs on the hot ones are gone.
  uint64_t with_pte = 0;
  for (uint64_t p = 0; p < 512; ++p) with_pte += has_pte(a, Gfn(p));
  EXPECT_EQ(with_pte, 512u - 16u);
  TIDE_ASSERT_OK(check());
  TIDE_ASSERT_OK(mm->scrubber().flush());
  mm->scrubber().pause(false);
}

TEST_F(ScrubberTest, RemovingAGuestLeavesThePoolWhole) {
  make_async(8 * kMiB);
  GuestMm* g = add("g", 6 * kMiB);
  for (uint64_t p = 0; p < 1536; p += 7) TIDE_ASSERT_OK(touch(*g, Gfn(p), 1));
  remove(g);
  auto s = mm->stats();
  EXPECT_EQ(s.free_frames, s.total_frames);
  EXPECT_EQ(s.scrubbing_frames, 0u);
  EXPECT_EQ(pool().resident_bytes(), 0u);
}

}  // namespace
}  // namespace tide::gmm::fake
