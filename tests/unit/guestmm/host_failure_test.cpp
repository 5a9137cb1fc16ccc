// Unit: host failures injected into faults and releases. Each must come back as a clear
// error, leave the audit clean with every frame accounted for (free + cached + hot + mapped
// == total, checked by MmTest::check()), never leave a window PTE on a frame the guest no
// longer has, and let a later retry succeed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mm_fixture.hpp"

namespace tide::gmm::fake {
namespace {

using HostFailureTest = MmTest;

void expect_error(const Status& st, std::errc code, const std::string& words) {
  ASSERT_FALSE(st) << "expected a failure";
  EXPECT_EQ(st.error().code, code) << st.error().message();
  EXPECT_NE(st.error().message().find(words), std::string::npos) << st.error().message();
}

TEST_F(HostFailureTest, MapFramesFailsInFaultAround) {
  make(8 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  host.fail_next(HostOp::map_frames);
  expect_error(touch(*g, Gfn(3), 1), std::errc::io_error, "vm1: fake map_frames");
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(g->stats().resident_frames, 0u);
  EXPECT_EQ(mm->stats().free_frames + mm->stats().cached_frames, mm->stats().total_frames);
  EXPECT_EQ(state_of(g, Gfn(3)), PageState::empty);
  TIDE_ASSERT_OK(touch(*g, Gfn(3), 1));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(g->stats().resident_frames, 512u);
  EXPECT_EQ(*read(*g, Gfn(3)), 1u);
}

TEST_F(HostFailureTest, FillZeroFailsInFaultAround) {
  make(8 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  host.fail_next(HostOp::fill_zero, 1, std::errc::bad_address);
  expect_error(touch(*g, Gfn(3), 1), std::errc::bad_address, "vm1: fake fill_zero");
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(mm->stats().free_frames, mm->stats().total_frames);
  EXPECT_EQ(pool().present_pages(), 0u);
  TIDE_ASSERT_OK(touch(*g, Gfn(3), 1));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(g->stats().fault_around, 1u);
}

TEST_F(HostFailureTest, FailedFaultAroundLeavesNoStaleWindowHint) {
  // a's window keeps viewing the block of an extent it released; when a fault-around that
  // mapped a different block fails, the window views that other block from then on. A later
  // fault must not trust the old hint and fill through a view of the wrong frame.
  make(4 * kMiB);
  GuestMm* a = add("a", 2 * kMiB);
  GuestMm* b = add("b", 2 * kMiB);
  TIDE_ASSERT_OK(touch(*a, Gfn(0), 1));
  const Mfn first = mfn_of(a, Gfn(0));
  TIDE_ASSERT_OK(a->release_range(Gfn(0), kPagesPerExtent, PageState::empty));
  TIDE_ASSERT_OK(touch(*b, Gfn(0), 2));  // b gets a's old block
  ASSERT_EQ(mfn_of(b, Gfn(0)), first);
  host.fail_next(HostOp::fill_zero);
  EXPECT_FALSE(touch(*a, Gfn(0), 3));
  TIDE_ASSERT_OK(check());
  TIDE_ASSERT_OK(b->release_range(Gfn(0), kPagesPerExtent, PageState::empty));  // the old block is free again
  TIDE_ASSERT_OK(check());
  TIDE_ASSERT_OK(touch(*a, Gfn(0), 3));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(*read(*a, Gfn(0)), 3u);
  EXPECT_EQ(*read(*a, Gfn(1)), 0u);
}

TEST_F(HostFailureTest, FailedSinglePageFaultLeavesNoStaleWindowHint) {
  make(4 * kMiB);
  GuestMm* g = add("g", 2 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 1));
  // Page 5's window views frame h after the release. Park h on the hot list so the refault
  // must map another frame there, and make that fault fail after the remap.
  const Mfn h = mfn_of(g, Gfn(5));
  TIDE_ASSERT_OK(g->release_range(Gfn(5), 1, PageState::empty));
  g->cache().drain();
  ASSERT_TRUE(mm->pool().alloc_exact(h, 0));
  ASSERT_EQ(mm->pool().offer_hot(std::span(&h, 1), /*force=*/true), 1u);
  TIDE_ASSERT_OK(check());
  host.fail_next(HostOp::fill_zero);
  EXPECT_FALSE(touch(*g, Gfn(5), 5));
  TIDE_ASSERT_OK(check());
  EXPECT_NE(FakeWindow::of(*g).view(5), std::optional<uint64_t>(h.value()));  // remapped
  // h is free again: page 5 must not take it back without remapping, since the window now
  // views the other frame.
  auto taken = mm->pool().take_hot();
  ASSERT_EQ(taken, h);
  mm->pool().free_clean(std::span(&h, 1));
  TIDE_ASSERT_OK(check());
  TIDE_ASSERT_OK(touch(*g, Gfn(5), 5));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(*read(*g, Gfn(5)), 5u);
  EXPECT_EQ(*read(*g, Gfn(6)), 0u);
}

TEST_F(HostFailureTest, MapFramesFailsInASinglePageFault) {
  make(8 * kMiB);
  GuestMm* g = add("vm1", 2 * kMiB + kPageSize);  // the last page is an extent of its own
  host.fail_next(HostOp::map_frames);
  expect_error(touch(*g, Gfn(512), 1), std::errc::io_error, "map_frames");
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(g->stats().resident_frames, 0u);
  TIDE_ASSERT_OK(touch(*g, Gfn(512), 1));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(g->stats().resident_frames, 1u);
}

TEST_F(HostFailureTest, FillZeroFailsInASinglePageFault) {
  make(8 * kMiB);
  GuestMm* g = add("vm1", 2 * kMiB + kPageSize);
  host.fail_next(HostOp::fill_zero);
  expect_error(touch(*g, Gfn(512), 1), std::errc::io_error, "fill_zero");
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(pool().present_pages(), 0u);
  TIDE_ASSERT_OK(touch(*g, Gfn(512), 1));
  TIDE_ASSERT_OK(check());
}

TEST_F(HostFailureTest, FillPresentFailsInARefill) {
  make(8 * kMiB);
  GuestMm* g = add("vm1", 2 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(7), 0x42));
  const host::ByteRange r{7 * kPageSize, kPageSize};
  TIDE_ASSERT_OK(FakeWindow::of(*g).zap(std::span(&r, 1)));
  host.fail_next(HostOp::fill_present);
  expect_error(touch(*g, Gfn(7), 0x43), std::errc::io_error, "fill_present");
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(state_of(g, Gfn(7)), PageState::present);
  EXPECT_EQ(*read(*g, Gfn(7)), 0x42u);  // the data survived
  TIDE_ASSERT_OK(check());
}

// A pool with no clean frame left, so faults are served from the hot list.
class HotFailureTest : public MmTest {
 protected:
  void SetUp() override {
    make(4 * kMiB, /*hot_frames=*/16);
    a = add("a", 2 * kMiB);
    b = add("b", 4 * kMiB);
    TIDE_ASSERT_OK(touch(*a, Gfn(0), 0xaa));
    TIDE_ASSERT_OK(touch(*b, Gfn(0), 0xbb));
    for (uint64_t i = 0; i < 8; ++i) TIDE_ASSERT_OK(touch(*a, Gfn(i), 0xa0));
    TIDE_ASSERT_OK(a->release_range(Gfn(0), 8, PageState::empty));
    ASSERT_EQ(mm->stats().hot_frames, 8u);
    ASSERT_EQ(mm->stats().free_frames, 0u);
  }
  GuestMm* a = nullptr;
  GuestMm* b = nullptr;
};

TEST_F(HotFailureTest, FillPresentFailsWithAHotFrame) {
  host.fail_next(HostOp::fill_present);
  expect_error(touch(*b, Gfn(600), 1), std::errc::io_error, "fill_present");
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(mm->stats().hot_frames, 8u);  // back on the hot list
  auto v = read(*b, Gfn(600));
  TIDE_ASSERT_OK(v);
  EXPECT_EQ(*v, 0u);
  TIDE_ASSERT_OK(check());
}

TEST_F(HotFailureTest, MapFramesFailsWithAHotFrame) {
  host.fail_next(HostOp::map_frames, 1);
  EXPECT_FALSE(touch(*b, Gfn(600), 1));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(mm->stats().hot_frames, 8u);
  TIDE_ASSERT_OK(touch(*b, Gfn(600), 1));
  EXPECT_EQ(*read(*b, Gfn(600)), 1u);
}

TEST_F(HostFailureTest, PoolExhaustionParksTheFault) {
  make(2 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 1));
  // No frame: the fault waits (parked, for the reclaimer) instead of failing the guest.
  auto st = touch(*g, Gfn(512), 2);
  expect_error(st, std::errc::resource_unavailable_try_again, "no PTE");
  EXPECT_GE(g->stats().parked_faults, 1u);
  EXPECT_EQ(g->parked_on(), memcg::kRootId);  // the root: the host, limited to the pool
  TIDE_ASSERT_OK(check());
  // Giving pages back makes room for single pages; the parked faults are served.
  TIDE_ASSERT_OK(g->release_range(Gfn(100), 2, PageState::empty));
  EXPECT_EQ(g->retry_parked(), 0u);
  TIDE_ASSERT_OK(touch(*g, Gfn(512), 2));
  TIDE_ASSERT_OK(touch(*g, Gfn(513), 3));
  expect_error(touch(*g, Gfn(514), 4), std::errc::resource_unavailable_try_again, "no PTE");
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(*read(*g, Gfn(512)), 2u);
  EXPECT_EQ(*read(*g, Gfn(0)), 1u);
}

TEST_F(HostFailureTest, PunchFailsInARelease) {
  make(4 * kMiB);
  GuestMm* a = add("a", 2 * kMiB);
  GuestMm* b = add("b", 4 * kMiB);
  for (uint64_t i = 0; i < 10; ++i) TIDE_ASSERT_OK(touch(*a, Gfn(i), 0xa0));
  TIDE_ASSERT_OK(touch(*b, Gfn(0), 0xbb));
  host.fail_next(HostOp::punch);
  auto r = a->release_range(Gfn(0), 10, PageState::empty);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("a: scrub released frames"), std::string::npos) << r.error().message();
  // The P2M still moved on; the unscrubbed frames wait on the hot list, unreachable.
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(state_of(a, Gfn(3)), PageState::empty);
  EXPECT_EQ(a->stats().resident_frames, 502u);
  EXPECT_EQ(mm->stats().hot_frames, 10u);
  // Another guest gets some of them, zeroed...
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(*read(*b, Gfn(512 + i)), 0u);
    TIDE_ASSERT_OK(touch(*b, Gfn(512 + i), 0xb1));
    TIDE_ASSERT_OK(check());
  }
  // ...and a never sees b's bytes (nor its own old ones) through its old pages.
  for (uint64_t i = 0; i < 7; ++i) {
    auto v = read(*a, Gfn(i));
    TIDE_ASSERT_OK(v);
    EXPECT_EQ(*v, 0u) << i;
  }
  EXPECT_EQ(mm->stats().hot_frames, 0u);
  TIDE_ASSERT_OK(check());
  // Releasing works again, and its frames serve the rest.
  auto again = a->release_range(Gfn(0), 7, PageState::empty);
  TIDE_ASSERT_OK(again);
  EXPECT_EQ(again->released, 7u);
  for (uint64_t i = 7; i < 10; ++i) EXPECT_EQ(*read(*a, Gfn(i)), 0u);
  TIDE_ASSERT_OK(check());
}

TEST_F(HostFailureTest, PunchFailsPartwayInARelease) {
  make(4 * kMiB);
  GuestMm* a = add("a", 2 * kMiB);
  for (uint64_t i = 0; i < 20; i += 2) TIDE_ASSERT_OK(touch(*a, Gfn(i), 0xa0));
  std::vector<Gfn> even;
  for (uint64_t i = 0; i < 20; i += 2) even.push_back(Gfn(i));
  host.fail_next_partway(HostOp::punch, 4);  // 4 of the 10 ranges are done
  EXPECT_FALSE(a->release(even, PageState::empty));
  TIDE_ASSERT_OK(check());
  for (Gfn x : even) EXPECT_EQ(*read(*a, x), 0u);
  TIDE_ASSERT_OK(check());
}

TEST_F(HostFailureTest, ZapFailsInAReleaseWithHotFrames) {
  make(4 * kMiB, /*hot_frames=*/16);
  GuestMm* a = add("a", 2 * kMiB);
  for (uint64_t i = 0; i < 4; ++i) TIDE_ASSERT_OK(touch(*a, Gfn(i), 0xa0));
  host.fail_next(HostOp::zap);
  // The frames cannot be kept hot while the window may still map them: they are punched.
  auto r = a->release_range(Gfn(0), 4, PageState::empty);
  TIDE_ASSERT_OK(r);
  EXPECT_EQ(r->released, 4u);
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(mm->stats().hot_frames, 0u);
  EXPECT_EQ(a->stats().resident_frames, 508u);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(*read(*a, Gfn(i)), 0u);
  TIDE_ASSERT_OK(check());
}

TEST_F(HostFailureTest, PunchFailsWhileCleaningUpAFailedFault) {
  make(4 * kMiB);
  GuestMm* g = add("vm1", 4 * kMiB);
  host.fail_next(HostOp::fill_zero);
  host.fail_next(HostOp::punch);
  EXPECT_FALSE(touch(*g, Gfn(0), 1));
  TIDE_ASSERT_OK(check());  // the unscrubbed frames are on the hot list
  EXPECT_GT(mm->stats().hot_frames, 0u);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 1));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(*read(*g, Gfn(0)), 1u);
}

TEST_F(HostFailureTest, PartiallyFilledExtentIsScrubbed) {
  // fill_zero gives the first pages memory and PTEs, then fails: the cleanup must take all
  // of it back, PTEs included.
  make(4 * kMiB);
  GuestMm* g = add("vm1", 2 * kMiB);
  host.fail_next_partway(HostOp::fill_zero, 100);
  EXPECT_FALSE(touch(*g, Gfn(0), 1));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(pool().present_pages(), 0u);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 1));
  TIDE_ASSERT_OK(check());
}

TEST_F(HostFailureTest, PartiallyFilledExtentThatCannotBePunched) {
  make(4 * kMiB);
  GuestMm* a = add("a", 2 * kMiB);
  GuestMm* b = add("b", 4 * kMiB);
  host.fail_next_partway(HostOp::fill_zero, 100);
  host.fail_next(HostOp::punch);
  EXPECT_FALSE(touch(*a, Gfn(0), 1));
  // The block is kept hot; a's window must not keep PTEs on it.
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(mm->stats().hot_frames, kPagesPerExtent);
  TIDE_ASSERT_OK(touch(*b, Gfn(0), 2));
  TIDE_ASSERT_OK(touch(*b, Gfn(512), 3));
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(*read(*a, Gfn(0)), 0u);
  EXPECT_EQ(*read(*b, Gfn(512)), 3u);
  TIDE_ASSERT_OK(check());
}

TEST_F(HostFailureTest, AuditReportsAHostFailure) {
  make(4 * kMiB);
  GuestMm* g = add("vm1", 2 * kMiB);
  TIDE_ASSERT_OK(touch(*g, Gfn(0), 1));
  host.fail_next(HostOp::snapshot);
  EXPECT_FALSE(mm->check_invariants());
  TIDE_ASSERT_OK(mm->check_invariants());
}

TEST_F(HostFailureTest, WindowOrPoolCreationFails) {
  host.fail_next(HostOp::create_pool);
  MemoryManagerOptions o;
  o.pool_bytes = 4 * kMiB;
  o.fault_server = false;
  EXPECT_FALSE(MemoryManager::create(host, o));
  make(4 * kMiB);
  host.fail_next(HostOp::create_window, 1, std::errc::not_enough_memory);
  auto r = mm->add_guest("vm1", {RamRange{Gpa(0), 2 * kMiB}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::not_enough_memory);
  EXPECT_EQ(mm->stats().guests, 0u);
  TIDE_ASSERT_OK(mm->check_invariants());
  EXPECT_TRUE(add("vm1", 2 * kMiB));
}

}  // namespace
}  // namespace tide::gmm::fake
