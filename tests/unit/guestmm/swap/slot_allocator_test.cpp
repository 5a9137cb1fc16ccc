// Unit: SlotAllocator — next-fit contiguity, the cursor's wrap, whole free clusters before
// holes, fragmentation, exhaustion as a clean error, free/reuse, owners, a seeded random run
// against a model, and check_invariants() catching corrupted tables.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "guestmm/swap/slot_allocator.hpp"

namespace tide::gmm::swap {

// Reaches into the tables to break them, for the audit tests.
class SlotAllocatorTestPeer {
 public:
  static void set_owner_raw(SlotAllocator& a, uint64_t s, uint64_t raw) { a.owners_[s] = raw; }
  static void flip_used_bit(SlotAllocator& a, uint64_t s) { a.used_bits_[s / 64] ^= uint64_t{1} << (s % 64); }
  static void set_cluster_used(SlotAllocator& a, uint64_t c, uint16_t n) { a.cluster_used_[c] = n; }
};

namespace {

#define ASSERT_AUDIT(a)                                      \
  do {                                                       \
    auto st_ = (a).check_invariants();                       \
    ASSERT_TRUE(st_) << st_.error().message();               \
  } while (0)

SlotAllocator make(uint64_t slots) {
  auto a = SlotAllocator::create(slots);
  EXPECT_TRUE(a) << a.error().message();
  return std::move(*a);
}

std::vector<uint64_t> owners_from(uint64_t first, uint64_t n) {
  std::vector<uint64_t> o(n);
  for (uint64_t i = 0; i < n; ++i) o[i] = first + i;
  return o;
}

std::vector<SlotRun> alloc(SlotAllocator& a, uint64_t first_owner, uint64_t n) {
  auto r = a.allocate(owners_from(first_owner, n));
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : std::vector<SlotRun>{};
}

void free_each(SlotAllocator& a, uint64_t first, uint64_t end, uint64_t step) {
  for (uint64_t s = first; s < end; s += step) ASSERT_TRUE(a.free(Slot(s)));
}

TEST(SlotAllocator, FreshAreaHandsOutSlotsInOrderAndRecordsOwners) {
  SlotAllocator a = make(1024);
  ASSERT_AUDIT(a);
  EXPECT_EQ(a.free_slots(), 1024u);
  EXPECT_EQ(a.free_clusters(), 4u);
  EXPECT_EQ(alloc(a, 100, 10), (std::vector<SlotRun>{{Slot(0), 10}}));
  EXPECT_EQ(alloc(a, 500, 5), (std::vector<SlotRun>{{Slot(10), 5}}));
  ASSERT_AUDIT(a);
  EXPECT_EQ(a.used_slots(), 15u);
  EXPECT_EQ(a.free_clusters(), 3u);
  EXPECT_EQ(a.owner(Slot(0)), 100u);
  EXPECT_EQ(a.owner(Slot(9)), 109u);
  EXPECT_EQ(a.owner(Slot(12)), 502u);
  EXPECT_EQ(a.owner(Slot(15)), std::nullopt);
  EXPECT_EQ(a.owner(Slot(5000)), std::nullopt);
  EXPECT_TRUE(a.in_use(Slot(14)));
  EXPECT_FALSE(a.in_use(Slot(15)));
}

TEST(SlotAllocator, OneBatchIsOneRunAcrossClusterBoundaries) {
  SlotAllocator a = make(1024);
  EXPECT_EQ(alloc(a, 0, 700), (std::vector<SlotRun>{{Slot(0), 700}}));
  ASSERT_AUDIT(a);
  EXPECT_EQ(a.free_clusters(), 1u);  // cluster 3 (768..1023) is untouched
  EXPECT_EQ(a.cursor(), Slot(700));
}

TEST(SlotAllocator, NextFitCarriesOnAtTheCursorInsteadOfFillingAnEarlierHole) {
  SlotAllocator a = make(1024);
  alloc(a, 0, 100);
  ASSERT_TRUE(a.free(SlotRun{Slot(10), 10}));
  EXPECT_EQ(alloc(a, 1000, 5), (std::vector<SlotRun>{{Slot(100), 5}}));
  ASSERT_AUDIT(a);
}

TEST(SlotAllocator, CursorWrapsAtTheEndOfTheArea) {
  SlotAllocator a = make(512);
  alloc(a, 0, 500);
  ASSERT_TRUE(a.free(SlotRun{Slot(0), 256}));  // cluster 0 is wholly free again
  // The tail of the area first (sequential with the previous batch), then the wrap.
  EXPECT_EQ(alloc(a, 1000, 20), (std::vector<SlotRun>{{Slot(500), 12}, {Slot(0), 8}}));
  EXPECT_EQ(a.cursor(), Slot(8));
  EXPECT_EQ(a.owner(Slot(511)), 1011u);
  EXPECT_EQ(a.owner(Slot(0)), 1012u);
  EXPECT_EQ(alloc(a, 2000, 3), (std::vector<SlotRun>{{Slot(8), 3}}));
  ASSERT_AUDIT(a);
}

TEST(SlotAllocator, TakingTheLastSlotPutsTheCursorBackAtTheStart) {
  SlotAllocator a = make(300);
  alloc(a, 0, 300);
  EXPECT_EQ(a.cursor(), Slot(0));
  EXPECT_EQ(a.free_slots(), 0u);
  ASSERT_AUDIT(a);
}

TEST(SlotAllocator, WholeFreeClusterIsPreferredToHoles) {
  SlotAllocator a = make(1024);
  alloc(a, 0, 1024);
  free_each(a, 1, 512, 2);  // holes in clusters 0 and 1
  ASSERT_TRUE(a.free(SlotRun{Slot(768), 256}));  // cluster 3 wholly free
  ASSERT_EQ(a.free_clusters(), 1u);
  ASSERT_EQ(a.cursor(), Slot(0));  // slot 0 is in use: nothing at the cursor
  EXPECT_EQ(alloc(a, 5000, 10), (std::vector<SlotRun>{{Slot(768), 10}}));
  ASSERT_AUDIT(a);
}

TEST(SlotAllocator, FreeClustersNextToEachOtherGiveOneRun) {
  SlotAllocator a = make(1024);
  alloc(a, 0, 1024);
  ASSERT_TRUE(a.free(SlotRun{Slot(256), 512}));  // clusters 1 and 2
  EXPECT_EQ(alloc(a, 0, 400), (std::vector<SlotRun>{{Slot(256), 400}}));
  ASSERT_AUDIT(a);
}

TEST(SlotAllocator, FragmentedAreaFillsHolesNextFitAndKeepsOwnersInOrder) {
  SlotAllocator a = make(256);
  alloc(a, 0, 256);
  free_each(a, 0, 256, 2);  // even slots free: no cluster is wholly free
  ASSERT_EQ(a.free_clusters(), 0u);
  const auto runs = alloc(a, 900, 5);
  EXPECT_EQ(runs, (std::vector<SlotRun>{{Slot(0), 1}, {Slot(2), 1}, {Slot(4), 1}, {Slot(6), 1}, {Slot(8), 1}}));
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(a.owner(Slot(2 * i)), 900 + i);
  ASSERT_EQ(a.cursor(), Slot(9));
  // Freeing slot 11 joins the holes at 10 and 12: the next batch there is one run.
  ASSERT_TRUE(a.free(Slot(11)));
  EXPECT_EQ(alloc(a, 0, 3), (std::vector<SlotRun>{{Slot(10), 3}}));
  EXPECT_EQ(alloc(a, 0, 2), (std::vector<SlotRun>{{Slot(14), 1}, {Slot(16), 1}}));
  EXPECT_EQ(a.free_slots(), 128u - 5 + 1 - 3 - 2);
  ASSERT_AUDIT(a);
}

TEST(SlotAllocator, ExhaustionIsACleanErrorThatChangesNothing) {
  SlotAllocator a = make(100);
  alloc(a, 0, 90);
  const Slot cursor = a.cursor();
  auto r = a.allocate(owners_from(0, 11));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::no_space_on_device);
  EXPECT_NE(r.error().message().find("10 of 100 free"), std::string::npos) << r.error().message();
  EXPECT_EQ(a.used_slots(), 90u);
  EXPECT_EQ(a.cursor(), cursor);
  EXPECT_EQ(a.owner(Slot(95)), std::nullopt);
  ASSERT_AUDIT(a);
  EXPECT_EQ(alloc(a, 0, 10), (std::vector<SlotRun>{{Slot(90), 10}}));
  auto one = a.allocate_one(7);
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code, std::errc::no_space_on_device);
  ASSERT_TRUE(a.free(Slot(42)));
  auto again = a.allocate_one(7);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, Slot(42));
  EXPECT_EQ(a.owner(Slot(42)), 7u);
  ASSERT_AUDIT(a);
}

TEST(SlotAllocator, EmptyRequestTakesNothing) {
  SlotAllocator a = make(10);
  auto r = a.allocate({});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(a.used_slots(), 0u);
}

TEST(SlotAllocator, BadFreesAreRefusedWithoutAPartialFree) {
  SlotAllocator a = make(64);
  alloc(a, 0, 10);
  ASSERT_TRUE(a.free(Slot(3)));
  auto twice = a.free(Slot(3));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, std::errc::invalid_argument);
  // A run whose middle is free: nothing of it is freed.
  EXPECT_FALSE(a.free(SlotRun{Slot(0), 6}));
  EXPECT_EQ(a.used_slots(), 9u);
  EXPECT_TRUE(a.in_use(Slot(0)));
  EXPECT_FALSE(a.free(SlotRun{Slot(60), 5}));  // past the end
  EXPECT_FALSE(a.free(Slot(64)));
  EXPECT_FALSE(a.free(SlotRun{Slot(UINT64_MAX), 2}));
  ASSERT_AUDIT(a);
}

TEST(SlotAllocator, RefusesBadSizesAndOwners) {
  EXPECT_FALSE(SlotAllocator::create(0));
  SlotAllocator a = make(8);
  auto r = a.allocate_one(UINT64_MAX);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::invalid_argument);
  EXPECT_EQ(a.used_slots(), 0u);
  ASSERT_TRUE(a.allocate_one(SlotAllocator::kMaxOwner));
  EXPECT_EQ(a.owner(Slot(0)), SlotAllocator::kMaxOwner);
}

TEST(SlotAllocator, PartialLastClusterCountsAsFreeWhenEmpty) {
  SlotAllocator a = make(300);  // clusters of 256 and 44
  EXPECT_EQ(a.nr_clusters(), 2u);
  EXPECT_EQ(alloc(a, 0, 300), (std::vector<SlotRun>{{Slot(0), 300}}));
  EXPECT_EQ(a.free_clusters(), 0u);
  ASSERT_TRUE(a.free(SlotRun{Slot(256), 44}));
  EXPECT_EQ(a.free_clusters(), 1u);
  ASSERT_TRUE(a.free(SlotRun{Slot(0), 256}));
  EXPECT_EQ(a.free_clusters(), 2u);
  ASSERT_AUDIT(a);
}

TEST(SlotAllocator, SeededRandomRunAgainstAModel) {
  constexpr uint64_t kSlots = 1500;  // not a multiple of the cluster size
  SlotAllocator a = make(kSlots);
  std::mt19937_64 rng(20240611);
  std::map<uint64_t, uint64_t> model;  // slot -> owner
  uint64_t next_owner = 0;
  uint64_t runs_total = 0, batches = 0;
  for (int step = 0; step < 3000; ++step) {
    if (rng() % 2 == 0) {
      const uint64_t n = 1 + rng() % 64;
      auto r = a.allocate(owners_from(next_owner, n));
      if (model.size() + n > kSlots) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, std::errc::no_space_on_device);
        continue;
      }
      ASSERT_TRUE(r) << r.error().message();
      uint64_t i = 0;
      for (const SlotRun& run : *r) {
        ASSERT_GT(run.nr_slots, 0u);
        for (uint64_t s = run.first.value(); s < run.end().value(); ++s, ++i) {
          ASSERT_LT(s, kSlots);
          ASSERT_FALSE(model.count(s)) << "slot " << s << " handed out twice";
          model[s] = next_owner + i;
        }
      }
      ASSERT_EQ(i, n);
      next_owner += n;
      runs_total += r->size();
      ++batches;
    } else if (!model.empty()) {
      // Free a random used slot and up to 7 used neighbours after it.
      auto it = model.lower_bound(rng() % kSlots);
      if (it == model.end()) it = model.begin();
      uint64_t first = it->first, n = 1;
      while (n < 8 && model.count(first + n)) ++n;
      ASSERT_TRUE(a.free(SlotRun{Slot(first), n}));
      for (uint64_t s = first; s < first + n; ++s) model.erase(s);
    }
    ASSERT_EQ(a.used_slots(), model.size());
    if (step % 50 == 0) {
      ASSERT_AUDIT(a);
      for (const auto& [s, o] : model) ASSERT_EQ(a.owner(Slot(s)), o);
    }
  }
  ASSERT_AUDIT(a);
  // Churn fragments the area, yet most batches stay in very few runs.
  EXPECT_LT(static_cast<double>(runs_total) / static_cast<double>(batches), 4.0);
}

TEST(SlotAllocator, AuditCatchesAnOwnerOnAFreeSlot) {
  SlotAllocator a = make(512);
  alloc(a, 0, 10);
  SlotAllocatorTestPeer::set_owner_raw(a, 20, 5);
  auto st = a.check_invariants();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("slot 20"), std::string::npos) << st.error().message();
}

TEST(SlotAllocator, AuditCatchesAUsedBitWithoutItsCounts) {
  SlotAllocator a = make(512);
  alloc(a, 0, 10);
  SlotAllocatorTestPeer::flip_used_bit(a, 3);  // slot 3 now free in the bitmap, owner left
  EXPECT_FALSE(a.check_invariants());
}

TEST(SlotAllocator, AuditCatchesAWrongClusterCount) {
  SlotAllocator a = make(512);
  alloc(a, 0, 10);
  SlotAllocatorTestPeer::set_cluster_used(a, 0, 9);
  auto st = a.check_invariants();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("cluster 0"), std::string::npos) << st.error().message();
}

}  // namespace
}  // namespace tide::gmm::swap
