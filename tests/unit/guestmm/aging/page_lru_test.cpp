// Unit: PageLru — residency, the used-once rule, second chance on the inactive tail,
// deactivation, isolate order, putback, the sampler's flags, check_invariants() catching
// corrupted tables, and a seeded random sequence against a model after every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "guestmm/aging/page_lru.hpp"

namespace tide::gmm::aging {

// Reaches into the tables to break them on purpose.
struct PageLruTestAccess {
  static void set_flags(PageLru& l, uint64_t i, uint8_t f) { l.flags_[i] = f; }
  static uint8_t flags(const PageLru& l, uint64_t i) { return l.flags_[i]; }
  static void set_next(PageLru& l, uint64_t i, uint32_t next) { l.links_[i].next = next; }
  static void set_prev(PageLru& l, uint64_t i, uint32_t prev) { l.links_[i].prev = prev; }
  static void bump_active_count(PageLru& l) { ++l.nr_active_; }
  static void bump_isolated_count(PageLru& l) { ++l.nr_isolated_; }
  static void bump_sampled_count(PageLru& l) { ++l.nr_sampled_; }
  static constexpr uint8_t kInactive = PageLru::kInactive;
  static constexpr uint8_t kActive = PageLru::kActive;
  static constexpr uint8_t kReferenced = PageLru::kReferenced;
};

namespace {

using Access = PageLruTestAccess;
using Pages = std::vector<uint64_t>;

#define ASSERT_AUDIT(l)                                      \
  do {                                                       \
    auto st_ = (l).check_invariants();                       \
    ASSERT_TRUE(st_) << st_.error().message();               \
  } while (0)

PageLru make(uint64_t n) {
  auto l = PageLru::create(n);
  EXPECT_TRUE(l);
  return std::move(*l);
}

Pages isolate(PageLru& l, uint64_t n, uint64_t max_scan = PageLru::kAll) {
  Pages v;
  (void)l.isolate_cold(n, v, max_scan);
  return v;
}

TEST(PageLru, CreateRejectsEmptyAndHugeGuests) {
  EXPECT_FALSE(PageLru::create(0));
  EXPECT_FALSE(PageLru::create(PageLru::kMaxPages + 1));
  auto l = PageLru::create(1);
  ASSERT_TRUE(l);
  ASSERT_AUDIT(*l);
  EXPECT_EQ(l->nr_pages(), 1u);
  EXPECT_EQ(l->nr_resident(), 0u);
}

TEST(PageLru, AddPutsNewPagesAtTheInactiveHead) {
  PageLru l = make(16);
  EXPECT_TRUE(l.add(3));
  EXPECT_TRUE(l.add(7));
  EXPECT_TRUE(l.add(1));
  ASSERT_AUDIT(l);
  EXPECT_EQ(l.pages_on(LruList::inactive), (Pages{1, 7, 3}));
  EXPECT_TRUE(l.pages_on(LruList::active).empty());
  EXPECT_EQ(l.nr_inactive(), 3u);
  EXPECT_EQ(l.nr_active(), 0u);
  EXPECT_EQ(l.list_of(7), LruList::inactive);
  EXPECT_EQ(l.list_of(0), LruList::none);
  EXPECT_FALSE(l.referenced(7));
}

TEST(PageLru, AddRefusesResidentPagesAndBadArguments) {
  PageLru l = make(8);
  ASSERT_TRUE(l.add(2));
  EXPECT_FALSE(l.add(2));
  EXPECT_FALSE(l.add(2, LruList::active));
  EXPECT_FALSE(l.add(8));
  EXPECT_FALSE(l.add(3, LruList::none));
  EXPECT_FALSE(l.add(3, LruList::isolated));
  ASSERT_AUDIT(l);
  EXPECT_EQ(l.nr_resident(), 1u);
  EXPECT_EQ(l.list_of(3), LruList::none);
}

TEST(PageLru, AddActiveForAKnownHotRefault) {
  PageLru l = make(8);
  ASSERT_TRUE(l.add(5, LruList::active));
  ASSERT_TRUE(l.add(6, LruList::active));
  ASSERT_AUDIT(l);
  EXPECT_EQ(l.pages_on(LruList::active), (Pages{6, 5}));
  EXPECT_EQ(l.nr_active(), 2u);
}

TEST(PageLru, RemoveFromEitherListAndClearsFlags) {
  PageLru l = make(8);
  for (uint64_t i : {0, 1, 2, 3}) ASSERT_TRUE(l.add(i));
  ASSERT_EQ(l.mark_referenced(1), Touch::referenced);
  ASSERT_EQ(l.mark_referenced(1), Touch::activated);
  ASSERT_EQ(l.mark_referenced(1), Touch::referenced);
  ASSERT_TRUE(l.set_sampled(2));
  EXPECT_TRUE(l.remove(1));
  EXPECT_TRUE(l.remove(2));
  EXPECT_FALSE(l.remove(2));
  EXPECT_FALSE(l.remove(6));
  EXPECT_FALSE(l.remove(99));
  ASSERT_AUDIT(l);
  EXPECT_EQ(l.pages_on(LruList::inactive), (Pages{3, 0}));
  EXPECT_EQ(l.nr_active(), 0u);
  EXPECT_EQ(l.nr_sampled(), 0u);
  // A page that comes back starts over: not referenced, not sampled.
  ASSERT_TRUE(l.add(1));
  EXPECT_FALSE(l.referenced(1));
  EXPECT_FALSE(l.sampled(2));
  ASSERT_AUDIT(l);
}

TEST(PageLru, SecondReferenceWhileInactivePromotes) {
  PageLru l = make(8);
  ASSERT_TRUE(l.add(4));
  EXPECT_EQ(l.mark_referenced(4), Touch::referenced);
  EXPECT_TRUE(l.referenced(4));
  EXPECT_EQ(l.list_of(4), LruList::inactive);
  EXPECT_EQ(l.mark_referenced(4), Touch::activated);
  EXPECT_EQ(l.list_of(4), LruList::active);
  EXPECT_FALSE(l.referenced(4));  // must earn its next second chance afresh
  EXPECT_EQ(l.mark_referenced(4), Touch::referenced);
  EXPECT_EQ(l.mark_referenced(4), Touch::already_referenced);
  EXPECT_EQ(l.list_of(4), LruList::active);
  EXPECT_EQ(l.mark_referenced(5), Touch::not_resident);
  EXPECT_EQ(l.mark_referenced(100), Touch::not_resident);
  EXPECT_EQ(l.list_of(5), LruList::none);
  ASSERT_AUDIT(l);
}

TEST(PageLru, IsolateTakesTheOldestFirst) {
  PageLru l = make(16);
  for (uint64_t i : {9, 4, 12, 0, 7}) ASSERT_TRUE(l.add(i));
  EXPECT_EQ(isolate(l, 2), (Pages{9, 4}));
  ASSERT_AUDIT(l);
  EXPECT_EQ(l.nr_isolated(), 2u);
  EXPECT_EQ(l.nr_inactive(), 3u);
  EXPECT_EQ(l.list_of(9), LruList::isolated);
  EXPECT_TRUE(l.resident(9));
  EXPECT_EQ(isolate(l, 10), (Pages{12, 0, 7}));
  EXPECT_EQ(l.nr_inactive(), 0u);
  EXPECT_TRUE(isolate(l, 10).empty());
  ASSERT_AUDIT(l);
}

TEST(PageLru, SecondChanceRotatesReferencedPagesToTheHead) {
  PageLru l = make(8);
  for (uint64_t i : {0, 1, 2, 3}) ASSERT_TRUE(l.add(i));  // tail 0, 1, 2, 3 head
  ASSERT_EQ(l.mark_referenced(0), Touch::referenced);
  ASSERT_EQ(l.mark_referenced(2), Touch::referenced);
  Pages v;
  const ScanStats st = l.isolate_cold(2, v);
  EXPECT_EQ(v, (Pages{1, 3}));
  EXPECT_EQ(st.scanned, 4u);
  EXPECT_EQ(st.rotated, 2u);
  EXPECT_EQ(st.moved, 2u);
  EXPECT_EQ(l.pages_on(LruList::inactive), (Pages{2, 0}));
  EXPECT_FALSE(l.referenced(0));
  EXPECT_FALSE(l.referenced(2));
  // Without a new reference, the second chance is spent.
  EXPECT_EQ(isolate(l, 5), (Pages{0, 2}));
  ASSERT_AUDIT(l);
}

TEST(PageLru, IsolateLooksAtEachPageOnceAndHonoursMaxScan) {
  PageLru l = make(8);
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(l.add(i));
    ASSERT_EQ(l.mark_referenced(i), Touch::referenced);
  }
  Pages v;
  ScanStats st = l.isolate_cold(4, v);
  EXPECT_TRUE(v.empty());  // every page referenced: all rotated, none taken twice round
  EXPECT_EQ(st.scanned, 4u);
  EXPECT_EQ(st.rotated, 4u);
  st = l.isolate_cold(4, v, 3);
  EXPECT_EQ(st.scanned, 3u);
  EXPECT_EQ(v, (Pages{0, 1, 2}));
  ASSERT_AUDIT(l);
}

TEST(PageLru, UsedOncePageIsReclaimedBeforeATwiceUsedOne) {
  // Page 0 is older and touched twice; page 1 is younger and touched once. Plain LRU would
  // take 0 first; the used-once rule takes 1.
  PageLru l = make(8);
  ASSERT_TRUE(l.add(0));
  ASSERT_TRUE(l.add(1));
  ASSERT_EQ(l.mark_referenced(0), Touch::referenced);
  ASSERT_EQ(l.mark_referenced(0), Touch::activated);
  ASSERT_EQ(l.mark_referenced(1), Touch::referenced);
  Pages order;
  for (int pass = 0; pass < 8 && order.size() < 2; ++pass) {
    Pages v = isolate(l, 1);
    order.insert(order.end(), v.begin(), v.end());
    if (v.empty() && l.nr_inactive() == 0) (void)l.age(1);
    ASSERT_AUDIT(l);
  }
  EXPECT_EQ(order, (Pages{1, 0}));
}

TEST(PageLru, AgeDeactivatesFromTheActiveTailToTheInactiveHead) {
  PageLru l = make(16);
  for (uint64_t i : {0, 1, 2, 3}) ASSERT_TRUE(l.add(i, LruList::active));  // tail 0 .. 3 head
  ASSERT_TRUE(l.add(10));
  ASSERT_EQ(l.mark_referenced(1), Touch::referenced);
  const ScanStats st = l.age(2);
  EXPECT_EQ(st.moved, 2u);
  EXPECT_EQ(st.rotated, 1u);
  EXPECT_EQ(st.scanned, 3u);
  EXPECT_EQ(l.pages_on(LruList::inactive), (Pages{2, 0, 10}));
  EXPECT_EQ(l.pages_on(LruList::active), (Pages{1, 3}));
  EXPECT_FALSE(l.referenced(1));
  ASSERT_AUDIT(l);
  // A deactivated page needs two new references to go back.
  EXPECT_EQ(l.mark_referenced(0), Touch::referenced);
  EXPECT_EQ(l.list_of(0), LruList::inactive);
  EXPECT_EQ(l.mark_referenced(0), Touch::activated);
}

TEST(PageLru, AgeHonoursMaxScanAndNeverLoops) {
  PageLru l = make(8);
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(l.add(i, LruList::active));
    ASSERT_EQ(l.mark_referenced(i), Touch::referenced);
  }
  ScanStats st = l.age(5);
  EXPECT_EQ(st.scanned, 5u);
  EXPECT_EQ(st.rotated, 5u);
  EXPECT_EQ(st.moved, 0u);
  st = l.age(5, 2);
  EXPECT_EQ(st.scanned, 2u);
  EXPECT_EQ(st.moved, 2u);
  EXPECT_EQ(l.nr_active(), 3u);
  EXPECT_EQ(l.age(0).scanned, 0u);
  ASSERT_AUDIT(l);
}

TEST(PageLru, PutbackReturnsAFailedVictimToTheInactiveHead) {
  PageLru l = make(8);
  for (uint64_t i : {0, 1, 2}) ASSERT_TRUE(l.add(i));
  ASSERT_EQ(isolate(l, 2), (Pages{0, 1}));
  // Referenced while isolated (the reclaimer raced with an access): keeps the evidence.
  EXPECT_EQ(l.mark_referenced(0), Touch::referenced);
  EXPECT_EQ(l.mark_referenced(0), Touch::already_referenced);
  EXPECT_EQ(l.list_of(0), LruList::isolated);
  EXPECT_TRUE(l.putback(0));
  EXPECT_FALSE(l.putback(0));
  EXPECT_FALSE(l.putback(2));  // on a list, not isolated
  EXPECT_EQ(l.pages_on(LruList::inactive), (Pages{0, 2}));
  EXPECT_TRUE(l.referenced(0));
  // The other victim was reclaimed: remove() ends its isolation, and putback then refuses.
  EXPECT_TRUE(l.remove(1));
  EXPECT_FALSE(l.putback(1));
  EXPECT_EQ(l.nr_isolated(), 0u);
  EXPECT_EQ(l.nr_resident(), 2u);
  ASSERT_AUDIT(l);
}

TEST(PageLru, SampledAndSeenFlags) {
  PageLru l = make(8);
  ASSERT_TRUE(l.add(1));
  ASSERT_TRUE(l.add(2, LruList::active));
  EXPECT_FALSE(l.set_sampled(0));  // not resident
  EXPECT_TRUE(l.set_sampled(1));
  EXPECT_FALSE(l.set_sampled(1));
  EXPECT_TRUE(l.set_sampled(2));
  EXPECT_EQ(l.nr_sampled(), 2u);
  ASSERT_AUDIT(l);
  EXPECT_TRUE(l.clear_sampled(1));
  EXPECT_FALSE(l.clear_sampled(1));
  EXPECT_FALSE(l.clear_sampled(0));
  EXPECT_EQ(l.nr_sampled(), 1u);
  // A sampled page can be isolated; it stays sampled (its PTEs are still gone) but cannot
  // be sampled again until it is back on a list.
  ASSERT_TRUE(l.set_sampled(1));
  ASSERT_EQ(isolate(l, 1), (Pages{1}));
  EXPECT_TRUE(l.sampled(1));
  EXPECT_TRUE(l.clear_sampled(1));
  EXPECT_FALSE(l.set_sampled(1));
  EXPECT_TRUE(l.set_seen(1));  // isolated pages are resident
  EXPECT_FALSE(l.set_seen(1));
  EXPECT_FALSE(l.set_seen(5));
  l.clear_seen(1);
  EXPECT_FALSE(l.seen(1));
  ASSERT_AUDIT(l);
}

TEST(PageLru, MoveLeavesAnEmptyLru) {
  PageLru a = make(8);
  ASSERT_TRUE(a.add(3));
  PageLru b = std::move(a);
  EXPECT_EQ(b.nr_inactive(), 1u);
  EXPECT_EQ(b.list_of(3), LruList::inactive);
  EXPECT_EQ(a.nr_pages(), 0u);  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_EQ(a.list_of(3), LruList::none);
  ASSERT_AUDIT(a);
  ASSERT_AUDIT(b);
}

TEST(PageLruAudit, CatchesAPageFlaggedOnTwoLists) {
  PageLru l = make(8);
  ASSERT_TRUE(l.add(1));
  Access::set_flags(l, 1, Access::kInactive | Access::kActive);
  EXPECT_FALSE(l.check_invariants());
}

TEST(PageLruAudit, CatchesFlagsOnANonResidentPage) {
  PageLru l = make(8);
  Access::set_flags(l, 5, Access::kReferenced);
  EXPECT_FALSE(l.check_invariants());
}

TEST(PageLruAudit, CatchesAFlaggedPageMissingFromItsList) {
  PageLru l = make(8);
  ASSERT_TRUE(l.add(1));
  Access::set_flags(l, 6, Access::kInactive);
  EXPECT_FALSE(l.check_invariants());
}

TEST(PageLruAudit, CatchesABrokenPrevLink) {
  PageLru l = make(8);
  for (uint64_t i : {0, 1, 2}) ASSERT_TRUE(l.add(i));
  Access::set_prev(l, 1, 1);
  EXPECT_FALSE(l.check_invariants());
}

TEST(PageLruAudit, CatchesALoopAndALinkOutOfRange) {
  PageLru l = make(8);
  for (uint64_t i : {0, 1, 2}) ASSERT_TRUE(l.add(i));
  Access::set_next(l, 0, 2);  // 2 -> 1 -> 0 -> 2 ...: never reaches the head
  EXPECT_FALSE(l.check_invariants());
  PageLru m = make(8);
  ASSERT_TRUE(m.add(0));
  Access::set_next(m, 0, 1000);
  EXPECT_FALSE(m.check_invariants());
}

TEST(PageLruAudit, CatchesWrongCounts) {
  PageLru a = make(8);
  ASSERT_TRUE(a.add(0, LruList::active));
  Access::bump_active_count(a);
  EXPECT_FALSE(a.check_invariants());
  PageLru b = make(8);
  Access::bump_isolated_count(b);
  EXPECT_FALSE(b.check_invariants());
  PageLru c = make(8);
  Access::bump_sampled_count(c);
  EXPECT_FALSE(c.check_invariants());
}

// A model of the lists with plain vectors, head first.
class Model {
 public:
  explicit Model(uint64_t n) : where_(n, LruList::none), ref_(n, false), sampled_(n, false) {}

  bool add(uint64_t i, LruList l) {
    if (i >= where_.size() || where_[i] != LruList::none) return false;
    if (l != LruList::inactive && l != LruList::active) return false;
    list(l).insert(list(l).begin(), i);
    where_[i] = l;
    ref_[i] = sampled_[i] = false;
    return true;
  }
  bool remove(uint64_t i) {
    if (i >= where_.size() || where_[i] == LruList::none) return false;
    if (where_[i] == LruList::isolated) {
      isolated_.erase(i);
    } else {
      erase(list(where_[i]), i);
    }
    where_[i] = LruList::none;
    ref_[i] = sampled_[i] = false;
    return true;
  }
  Touch mark(uint64_t i) {
    if (i >= where_.size() || where_[i] == LruList::none) return Touch::not_resident;
    if (!ref_[i]) {
      ref_[i] = true;
      return Touch::referenced;
    }
    if (where_[i] != LruList::inactive) return Touch::already_referenced;
    erase(inactive_, i);
    active_.insert(active_.begin(), i);
    where_[i] = LruList::active;
    ref_[i] = false;
    return Touch::activated;
  }
  Pages isolate(uint64_t max_victims, uint64_t max_scan) {
    Pages v;
    const uint64_t limit = std::min<uint64_t>(max_scan, inactive_.size());
    for (uint64_t k = 0; k < limit && v.size() < max_victims; ++k) {
      const uint64_t p = inactive_.back();
      inactive_.pop_back();
      if (ref_[p]) {
        ref_[p] = false;
        inactive_.insert(inactive_.begin(), p);
      } else {
        where_[p] = LruList::isolated;
        isolated_.insert(p);
        v.push_back(p);
      }
    }
    return v;
  }
  uint64_t age(uint64_t max_deactivate, uint64_t max_scan) {
    uint64_t moved = 0;
    const uint64_t limit = std::min<uint64_t>(max_scan, active_.size());
    for (uint64_t k = 0; k < limit && moved < max_deactivate; ++k) {
      const uint64_t p = active_.back();
      active_.pop_back();
      if (ref_[p]) {
        ref_[p] = false;
        active_.insert(active_.begin(), p);
      } else {
        inactive_.insert(inactive_.begin(), p);
        where_[p] = LruList::inactive;
        ++moved;
      }
    }
    return moved;
  }
  bool putback(uint64_t i) {
    if (i >= where_.size() || where_[i] != LruList::isolated) return false;
    isolated_.erase(i);
    inactive_.insert(inactive_.begin(), i);
    where_[i] = LruList::inactive;
    return true;
  }
  bool set_sampled(uint64_t i) {
    if (i >= where_.size() || (where_[i] != LruList::inactive && where_[i] != LruList::active) || sampled_[i]) return false;
    sampled_[i] = true;
    return true;
  }
  bool clear_sampled(uint64_t i) {
    if (i >= where_.size() || !sampled_[i]) return false;
    sampled_[i] = false;
    return true;
  }

  void expect_same(const PageLru& l) const {
    EXPECT_EQ(l.pages_on(LruList::inactive), inactive_);
    EXPECT_EQ(l.pages_on(LruList::active), active_);
    EXPECT_EQ(l.nr_isolated(), isolated_.size());
    uint64_t sampled = 0;
    for (uint64_t i = 0; i < where_.size(); ++i) {
      ASSERT_EQ(l.list_of(i), where_[i]) << "page " << i;
      ASSERT_EQ(l.referenced(i), ref_[i]) << "page " << i;
      ASSERT_EQ(l.sampled(i), sampled_[i]) << "page " << i;
      sampled += sampled_[i] ? 1 : 0;
    }
    EXPECT_EQ(l.nr_sampled(), sampled);
  }
  const std::set<uint64_t>& isolated() const { return isolated_; }

 private:
  Pages& list(LruList l) { return l == LruList::inactive ? inactive_ : active_; }
  static void erase(Pages& v, uint64_t i) { v.erase(std::find(v.begin(), v.end(), i)); }

  std::vector<LruList> where_;
  std::vector<bool> ref_;
  std::vector<bool> sampled_;
  Pages inactive_;
  Pages active_;
  std::set<uint64_t> isolated_;
};

class PageLruRandom : public ::testing::TestWithParam<uint64_t> {};

TEST_P(PageLruRandom, MatchesTheModelAfterEveryStep) {
  uint64_t seed = GetParam();
  if (const char* s = std::getenv("TIDE_STRESS_SEED")) seed = std::strtoull(s, nullptr, 10);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (TIDE_STRESS_SEED=<n> reruns one seed)");
  std::mt19937_64 rng(seed);
  const uint64_t n = 1 + rng() % 96;
  PageLru l = make(n);
  Model m(n);
  auto pick = [&] { return rng() % (n + 2); };  // a few indices out of range too
  for (int step = 0; step < 4000; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    switch (rng() % 10) {
      case 0:
      case 1: {
        const uint64_t i = pick();
        const LruList where = rng() % 5 == 0 ? LruList::active : LruList::inactive;
        ASSERT_EQ(l.add(i, where), m.add(i, where));
        break;
      }
      case 2: {
        const uint64_t i = pick();
        ASSERT_EQ(l.remove(i), m.remove(i));
        break;
      }
      case 3:
      case 4: {
        const uint64_t i = pick();
        ASSERT_EQ(l.mark_referenced(i), m.mark(i));
        break;
      }
      case 5: {
        const uint64_t victims = rng() % 6, scan = rng() % 2 ? PageLru::kAll : rng() % 10;
        Pages got;
        (void)l.isolate_cold(victims, got, scan);
        ASSERT_EQ(got, m.isolate(victims, scan));
        break;
      }
      case 6: {
        const uint64_t d = rng() % 6, scan = rng() % 2 ? PageLru::kAll : rng() % 10;
        ASSERT_EQ(l.age(d, scan).moved, m.age(d, scan));
        break;
      }
      case 7: {
        // Mostly a real isolated page, sometimes any page.
        uint64_t i = pick();
        if (!m.isolated().empty() && rng() % 4 != 0) {
          auto it = m.isolated().begin();
          std::advance(it, static_cast<long>(rng() % m.isolated().size()));
          i = *it;
          if (rng() % 2 == 0) {  // reclaimed instead of put back
            ASSERT_EQ(l.remove(i), m.remove(i));
            break;
          }
        }
        ASSERT_EQ(l.putback(i), m.putback(i));
        break;
      }
      case 8: {
        const uint64_t i = pick();
        ASSERT_EQ(l.set_sampled(i), m.set_sampled(i));
        break;
      }
      case 9: {
        const uint64_t i = pick();
        ASSERT_EQ(l.clear_sampled(i), m.clear_sampled(i));
        break;
      }
    }
    ASSERT_AUDIT(l);
    ASSERT_NO_FATAL_FAILURE(m.expect_same(l));
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, PageLruRandom, ::testing::Values(1, 2, 3, 42, 1234, 99991));

}  // namespace
}  // namespace tide::gmm::aging
