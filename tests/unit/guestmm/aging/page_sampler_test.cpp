// Unit: PageSampler — the clock hand covers every resident page over rounds and hands out
// index runs, sampled pages that fault become referenced, untouched ones are counted cold,
// one reference per page per period, and KVM-format dirty bitmaps.
#include <gtest/gtest.h>

#include <array>
#include <set>
#include <vector>

#include "guestmm/aging/page_lru.hpp"
#include "guestmm/aging/page_sampler.hpp"

namespace tide::gmm::aging {
namespace {

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

Pages pages_of(const SampleRound& r) {
  Pages out;
  for (const PageRun& run : r.to_unmap) {
    for (uint64_t i = 0; i < run.count; ++i) out.push_back(run.first + i);
  }
  return out;
}

TEST(PageSampler, HandsOutRunsOfResidentPagesFromTheHand) {
  PageLru l = make(16);
  for (uint64_t i : {0, 1, 2, 5, 6, 9, 10, 11, 12}) ASSERT_TRUE(l.add(i));
  ASSERT_TRUE(l.add(4, LruList::active));  // both lists are sampled
  PageSampler s;
  SampleRound r = s.begin_round(l, 6);
  EXPECT_EQ(r.to_unmap, (std::vector<PageRun>{{0, 3}, {4, 3}}));
  EXPECT_EQ(r.sampled, 6u);
  EXPECT_EQ(r.visited, 7u);
  EXPECT_FALSE(r.wrapped);
  EXPECT_EQ(s.hand(), 7u);
  EXPECT_EQ(l.nr_sampled(), 6u);
  for (uint64_t i : {0, 1, 2, 4, 5, 6}) EXPECT_TRUE(l.sampled(i)) << i;
  ASSERT_AUDIT(l);
  // The rest, then the hand wraps and finds nothing more: pages still unmapped are skipped,
  // and one call never visits an index twice.
  r = s.begin_round(l, 100);
  EXPECT_EQ(r.to_unmap, (std::vector<PageRun>{{9, 4}}));
  EXPECT_EQ(r.visited, 16u);
  EXPECT_TRUE(r.wrapped);
  EXPECT_EQ(r.cold, 6u);  // none of the first round's pages faulted
  EXPECT_EQ(r.still_sampled, 6u);
  EXPECT_EQ(s.hand(), 7u);
  ASSERT_AUDIT(l);
}

TEST(PageSampler, ARunNeverWrapsPastTheLastIndex) {
  PageLru l = make(8);
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(l.add(i));
  PageSampler s;
  (void)s.begin_round(l, 6);
  for (uint64_t i = 0; i < 8; ++i) (void)s.on_fault(l, i);
  const SampleRound r = s.begin_round(l, 4);
  EXPECT_EQ(r.to_unmap, (std::vector<PageRun>{{6, 2}, {0, 2}}));
  EXPECT_TRUE(r.wrapped);
}

TEST(PageSampler, TheClockHandCoversEveryResidentPage) {
  constexpr uint64_t kPages = 1000;
  PageLru l = make(kPages);
  std::set<uint64_t> resident;
  for (uint64_t i = 0; i < kPages; i += 3) {
    ASSERT_TRUE(l.add(i, i % 2 == 0 ? LruList::inactive : LruList::active));
    resident.insert(i);
  }
  PageSampler s;
  std::set<uint64_t> covered;
  // 334 resident pages, 50 a round: every one within 7 rounds, even though each round's
  // pages fault back at once (so they are sampleable again) and the lists churn.
  for (int round = 0; round < 7; ++round) {
    const SampleRound r = s.begin_round(l, 50);
    for (uint64_t p : pages_of(r)) {
      EXPECT_TRUE(resident.count(p)) << "sampled a page that is not resident: " << p;
      covered.insert(p);
      EXPECT_TRUE(s.on_fault(l, p));
      (void)l.mark_referenced(p);  // promote some, to move pages between the lists
    }
    (void)l.age(10);
    ASSERT_AUDIT(l);
  }
  EXPECT_EQ(covered, resident);
}

TEST(PageSampler, FaultOfASampledPageIsAReference) {
  PageLru l = make(8);
  ASSERT_TRUE(l.add(3));
  ASSERT_TRUE(l.add(4));
  PageSampler s;
  (void)s.begin_round(l, 8);
  ASSERT_TRUE(l.sampled(3));
  EXPECT_TRUE(s.on_fault(l, 3));
  EXPECT_FALSE(l.sampled(3));
  EXPECT_TRUE(l.referenced(3));
  EXPECT_FALSE(l.referenced(4));
  EXPECT_FALSE(s.on_fault(l, 3));  // a fault that was not the sampler's
  EXPECT_FALSE(s.on_fault(l, 5));
  EXPECT_FALSE(s.on_fault(l, 100));
  EXPECT_EQ(s.stats().faults, 1u);
  // The period ends: 4 never came back.
  const SampleRound r = s.begin_round(l, 0);
  EXPECT_EQ(r.faults, 1u);
  EXPECT_EQ(r.cold, 1u);
  EXPECT_EQ(r.still_sampled, 1u);
  EXPECT_TRUE(r.to_unmap.empty());
  EXPECT_EQ(s.stats().cold, 1u);
  ASSERT_AUDIT(l);
}

TEST(PageSampler, ColdCountsOnlyThePreviousRoundsPagesStillUnmapped) {
  PageLru l = make(8);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(l.add(i));
  PageSampler s;
  (void)s.begin_round(l, 2);  // 0, 1
  SampleRound r = s.begin_round(l, 2);  // 2, 3
  EXPECT_EQ(r.cold, 2u);
  EXPECT_TRUE(s.on_fault(l, 0));  // from the round before: a fault, but not this round's
  EXPECT_TRUE(s.on_fault(l, 3));
  EXPECT_TRUE(l.remove(2));  // reclaimed: neither faulted nor cold
  r = s.begin_round(l, 0);
  EXPECT_EQ(r.faults, 2u);
  EXPECT_EQ(r.cold, 0u);
  EXPECT_EQ(r.still_sampled, 1u);  // page 1
  ASSERT_AUDIT(l);
}

TEST(PageSampler, TwoSampledRoundsPromoteAReadPage) {
  PageLru l = make(4);
  ASSERT_TRUE(l.add(0));
  ASSERT_TRUE(l.add(1));
  PageSampler s;
  for (int round = 0; round < 2; ++round) {
    (void)s.begin_round(l, 4);
    EXPECT_TRUE(s.on_fault(l, 0));
  }
  EXPECT_EQ(l.list_of(0), LruList::active);
  EXPECT_EQ(l.list_of(1), LruList::inactive);
}

TEST(PageSampler, OneReferencePerPagePerPeriod) {
  PageLru l = make(8);
  ASSERT_TRUE(l.add(2));
  PageSampler s;
  (void)s.begin_round(l, 8);
  EXPECT_TRUE(s.on_fault(l, 2));                      // read fault
  const uint64_t dirty = uint64_t{1} << 2;
  EXPECT_EQ(s.mark_dirty(l, 0, std::span(&dirty, 1), 8), 0u);  // and a write, same period
  EXPECT_EQ(s.note_reference(l, 2), Touch::same_period);
  EXPECT_EQ(l.list_of(2), LruList::inactive);  // accessed in one period only: not promoted
  EXPECT_TRUE(l.referenced(2));
  EXPECT_EQ(s.stats().same_period, 2u);
  (void)s.begin_round(l, 0);
  EXPECT_FALSE(l.seen(2));
  EXPECT_EQ(s.mark_dirty(l, 0, std::span(&dirty, 1), 8), 1u);  // next period: promoted
  EXPECT_EQ(l.list_of(2), LruList::active);
  EXPECT_EQ(s.note_reference(l, 6), Touch::not_resident);
  ASSERT_AUDIT(l);
}

TEST(PageSampler, RemovedPagesForgetTheirSamplingState) {
  PageLru l = make(4);
  ASSERT_TRUE(l.add(1));
  PageSampler s;
  (void)s.begin_round(l, 4);
  EXPECT_EQ(s.note_reference(l, 1), Touch::referenced);
  ASSERT_TRUE(l.remove(1));
  ASSERT_TRUE(l.add(1));  // swapped back in within the same period
  EXPECT_FALSE(s.on_fault(l, 1));
  EXPECT_EQ(s.note_reference(l, 1), Touch::referenced);  // a new page: counted again
  (void)s.begin_round(l, 0);
  EXPECT_FALSE(l.seen(1));
  ASSERT_AUDIT(l);
}

TEST(PageSampler, DirtyBitmapMarksItsPages) {
  PageLru l = make(200);
  for (uint64_t i = 0; i < 200; ++i) ASSERT_TRUE(l.add(i));
  PageSampler s;
  // A memslot starting at page 10: bits 0, 63 (word 0), 64, 100 (word 1).
  const std::array<uint64_t, 2> bits{(uint64_t{1} << 0) | (uint64_t{1} << 63), (uint64_t{1} << 0) | (uint64_t{1} << 36)};
  EXPECT_EQ(s.mark_dirty(l, 10, bits, 128), 4u);
  std::set<uint64_t> marked;
  for (uint64_t i = 0; i < 200; ++i) {
    if (l.referenced(i)) marked.insert(i);
  }
  EXPECT_EQ(marked, (std::set<uint64_t>{10, 73, 74, 110}));
  EXPECT_EQ(s.stats().dirty_bits, 4u);
  ASSERT_AUDIT(l);
}

TEST(PageSampler, DirtyBitmapIsBoundedByItsLengthTheSlotAndTheGuest) {
  PageLru l = make(100);
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(l.add(i));
  PageSampler s;
  const std::array<uint64_t, 2> all{~uint64_t{0}, ~uint64_t{0}};
  // nr_bits 70: word 1 counts only its low 6 bits.
  EXPECT_EQ(s.mark_dirty(l, 0, all, 70), 70u);
  EXPECT_TRUE(l.referenced(69));
  EXPECT_FALSE(l.referenced(70));
  // nr_bits beyond the span: only the span is read.
  (void)s.begin_round(l, 0);
  PageLru m = make(300);
  for (uint64_t i = 0; i < 300; ++i) ASSERT_TRUE(m.add(i));
  PageSampler t;
  EXPECT_EQ(t.mark_dirty(m, 0, all, 1000), 128u);
  EXPECT_FALSE(m.referenced(128));
  // A slot that runs past the guest's last page: the excess is counted and ignored.
  PageSampler u;
  PageLru k = make(100);
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(k.add(i));
  EXPECT_EQ(u.mark_dirty(k, 90, all, 128), 10u);
  EXPECT_EQ(u.stats().out_of_range, 118u);
  EXPECT_EQ(u.mark_dirty(k, 500, all, 128), 0u);
  EXPECT_EQ(u.stats().out_of_range, 246u);
  // Bits of non-resident pages pass nothing on.
  ASSERT_TRUE(k.remove(5));
  (void)u.begin_round(k, 0);
  EXPECT_EQ(u.mark_dirty(k, 0, std::span(all).first(1), 64), 63u);
  EXPECT_EQ(u.mark_dirty(k, 0, {}, 64), 0u);
  ASSERT_AUDIT(k);
}

TEST(PageSampler, IsolatedPagesAreNotSampled) {
  PageLru l = make(4);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(l.add(i));
  std::vector<uint64_t> victims;
  (void)l.isolate_cold(2, victims);
  PageSampler s;
  const SampleRound r = s.begin_round(l, 4);
  EXPECT_EQ(r.to_unmap, (std::vector<PageRun>{{2, 2}}));
}

}  // namespace
}  // namespace tide::gmm::aging
