// Unit: MemoryManager::check_invariants() catching deliberately broken states — P2M, frame
// table (rmap), window views, counters and the pool's accounting. Each test breaks one
// thing, expects the audit to name it, repairs it and expects a clean audit again.
#include <gtest/gtest.h>

#include <string>

#include "mm_fixture.hpp"

namespace tide::gmm::fake {
namespace {

class AuditTest : public MmTest {
 protected:
  void SetUp() override {
    make(8 * kMiB);
    g = add("vm1", 4 * kMiB);
    TIDE_ASSERT_OK(touch(*g, Gfn(0), 1));  // extent 0 Present, extent 1 untouched
    TIDE_ASSERT_OK(check());
    m7 = mfn_of(g, Gfn(7));
  }
  // Test-only write access to the P2M, under the extent lock as the manager does it.
  void store(uint64_t index, P2mEntry e) {
    std::lock_guard l(g->p2m().extent_lock(index / kPagesPerExtent));
    const_cast<P2m&>(g->p2m()).store(index, e);
  }
  void expect_broken(const std::string& words) {
    auto st = mm->check_invariants();
    ASSERT_FALSE(st) << "the audit missed: " << words;
    EXPECT_EQ(st.error().code, std::errc::state_not_recoverable);
    EXPECT_NE(st.error().message().find(words), std::string::npos) << st.error().message();
  }
  void expect_clean() { TIDE_EXPECT_OK(check()); }
  // A frame in the buddy allocator's free lists.
  Mfn free_frame() {
    for (uint64_t m = 0; m < mm->frames().size(); ++m) {
      if (!mm->frames().at(m).has(kFrameAllocated)) return Mfn(m);
    }
    ADD_FAILURE() << "no free frame";
    return Mfn(0);
  }

  GuestMm* g = nullptr;
  Mfn m7;
};

TEST_F(AuditTest, P2mEntryPointingAtAFreeFrame) {
  store(7, P2mEntry::present(free_frame()));
  expect_broken("maps free frame");
  store(7, P2mEntry::present(m7));
  expect_clean();
}

TEST_F(AuditTest, P2mEntryOutsideThePool) {
  store(7, P2mEntry::present(Mfn(1u << 30)));
  expect_broken("outside the pool");
  store(7, P2mEntry::present(m7));
  expect_clean();
}

TEST_F(AuditTest, RmapNamesAnotherGfn) {
  Frame& f = mm->frames()[m7];
  f.gfn = 8;
  expect_broken("rmap says guest 1 GFN 0x8");
  f.gfn = 7;
  expect_clean();
}

TEST_F(AuditTest, RmapNamesAnotherGuest) {
  Frame& f = mm->frames()[m7];
  f.owner = 2;
  expect_broken("rmap says guest 2");
  f.owner = g->id();
  expect_clean();
}

TEST_F(AuditTest, MapCountDisagreesWithTheRmap) {
  Frame& f = mm->frames()[m7];
  f.map_count = 2;
  expect_broken("map count 2");
  f.map_count = 1;
  expect_clean();
}

TEST_F(AuditTest, MappedFrameWithBadFlags) {
  Frame& f = mm->frames()[m7];
  const uint16_t flags = f.flags;
  f.flags = static_cast<uint16_t>(flags | kFrameHot);
  expect_broken("bad flags");
  f.flags = static_cast<uint16_t>(flags & ~kFrameResident);
  expect_broken("bad flags");
  f.flags = flags;
  expect_clean();
}

TEST_F(AuditTest, FrameMappedByTwoGfns) {
  const Mfn m8 = mfn_of(g, Gfn(8));
  store(8, P2mEntry::present(m7));
  expect_broken("mapped twice");
  store(8, P2mEntry::present(m8));
  expect_clean();
}

TEST_F(AuditTest, WindowViewsAnotherFrame) {
  TIDE_ASSERT_OK(touch(*g, Gfn(7), 0x77));
  FakeWindow& w = FakeWindow::of(*g);
  w.set_view(7, m7.value() + 100);
  expect_broken("does not view frame");
  w.set_view(7, std::nullopt);  // the anonymous placeholder
  expect_broken("does not view frame");
  w.set_view(7, m7.value());
  expect_clean();
  EXPECT_EQ(*read(*g, Gfn(7)), 0x77u);  // refilled: the data was never lost
}

TEST_F(AuditTest, ResidentCounterOff) {
  // Page 7 loses its Present entry behind the counters' back.
  store(7, P2mEntry::frameless(PageState::empty, m7));
  expect_broken("511 pages are Present but the resident count is 512");
  store(7, P2mEntry::present(m7));
  expect_clean();
}

TEST_F(AuditTest, FrameLostFromEveryList) {
  auto lost = mm->pool().alloc_block(0);
  ASSERT_TRUE(lost);
  expect_broken("frames unaccounted for");
  mm->pool().free_clean(std::span(&*lost, 1));
  expect_clean();
}

TEST_F(AuditTest, CachedFrameAlsoMapped) {
  // A page released into the cache, then (wrongly) still mapped by the P2M.
  TIDE_ASSERT_OK(g->release_range(Gfn(7), 1, PageState::empty));
  ASSERT_EQ(g->cache().size(), 1u);
  store(7, P2mEntry::present(m7));
  expect_broken("rmap says guest 0");
  store(7, P2mEntry::frameless(PageState::empty, m7));
  expect_clean();
}

TEST_F(AuditTest, FreeFrameFlaggedHot) {
  // A frame on the buddy allocator's free lists that claims to be hot.
  const Mfn f = free_frame();
  const uint16_t flags = mm->frames()[f].flags;
  mm->frames()[f].flags = static_cast<uint16_t>(kFrameAllocated | kFrameResident | kFrameHot);
  expect_broken("buddy allocator");
  mm->frames()[f].flags = flags;
  expect_clean();
}

TEST_F(AuditTest, BuddyFreeFrameOwned) {
  const Mfn f = free_frame();
  mm->frames()[f].owner = 3;
  expect_broken("buddy allocator: free frame");
  mm->frames()[f].owner = 0;
  expect_clean();
}

TEST_F(AuditTest, TwoGuestsCannotShareAFrame) {
  GuestMm* h = add("vm2", 2 * kMiB);
  TIDE_ASSERT_OK(touch(*h, Gfn(0), 2));
  const Mfn theirs = mfn_of(h, Gfn(3));
  store(7, P2mEntry::present(theirs));
  auto st = mm->check_invariants();
  ASSERT_FALSE(st);
  store(7, P2mEntry::present(m7));
  expect_clean();
}

TEST_F(AuditTest, HostViewCatchesAPteOnAReleasedPage) {
  // The manager's audit trusts the host to drop PTEs; the fake's view checks it.
  const Mfn m = mfn_of(g, Gfn(9));
  TIDE_ASSERT_OK(g->release_range(Gfn(9), 1, PageState::empty));
  expect_clean();
  FakeWindow& w = FakeWindow::of(*g);
  // Rebuild a PTE on the released page by hand: a fill that no P2M transition backs.
  w.set_view(9, m.value());
  ASSERT_TRUE(w.fill_zero(9 * kPageSize, kPageSize));
  auto st = check_host_view(*mm, host, guests);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("still has a PTE"), std::string::npos) << st.error().message();
  // Undo: punch the page the fill brought in (drops the PTE) and the state is clean again.
  const host::ByteRange pr{m.value() << kPageShift, kPageSize};
  TIDE_ASSERT_OK(mm->backing().punch(std::span(&pr, 1)));
  expect_clean();
}

}  // namespace
}  // namespace tide::gmm::fake
