// Unit: the aging pieces together. A guest of N resident pages touches a working set of W
// of them every period — by reads (seen only through the sampler's faults), by writes (the
// dirty log, and faults where the sampler dropped the PTE), or both. After a few rounds of
// sampling and aging, reclaim takes only pages outside the working set, and takes all of
// them; the cold pages' PTEs stay dropped, so the sampler's budget goes to the hot ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "guestmm/aging/page_lru.hpp"
#include "guestmm/aging/page_sampler.hpp"
#include "guestmm/aging/scan_balance.hpp"

namespace tide::gmm::aging {
namespace {

enum class Access { reads, writes, mixed };

std::string access_name(const ::testing::TestParamInfo<Access>& p) {
  switch (p.param) {
    case Access::reads: return "reads";
    case Access::writes: return "writes";
    case Access::mixed: return "mixed";
  }
  return "?";
}

class AgingScenario : public ::testing::TestWithParam<Access> {
 protected:
  static constexpr uint64_t kGuestPages = 640;  // some never resident
  static constexpr uint64_t kResident = 512;
  static constexpr uint64_t kWorkingSet = 48;
  static constexpr uint64_t kSamplesPerRound = 128;  // a quarter of the resident pages

  void SetUp() override {
    std::mt19937_64 rng(2024);
    std::vector<uint64_t> pages(kGuestPages);
    for (uint64_t i = 0; i < kGuestPages; ++i) pages[i] = i;
    std::shuffle(pages.begin(), pages.end(), rng);
    pages.resize(kResident);
    // Faulted in, in random order; the working set is a random subset.
    for (uint64_t p : pages) ASSERT_TRUE(lru_.add(p));
    resident_.insert(pages.begin(), pages.end());
    std::shuffle(pages.begin(), pages.end(), rng);
    working_set_.insert(pages.begin(), pages.begin() + kWorkingSet);
  }

  // One period: the sampler's round, the guest's accesses, the dirty log, background aging
  // (the sampler thread's work, with the guest's in the middle).
  void run_round() {
    last_round_ = sampler_.begin_round(lru_, kSamplesPerRound);
    std::vector<uint64_t> dirty((kGuestPages + 63) / 64, 0);
    uint64_t k = 0;
    for (uint64_t p : working_set_) {
      const bool write = GetParam() == Access::writes || (GetParam() == Access::mixed && k++ % 2 == 0);
      // Any access to a page whose PTE the sampler dropped faults; the handler restores it.
      if (lru_.sampled(p)) {
        ASSERT_TRUE(sampler_.on_fault(lru_, p));
      }
      if (write) dirty[p / 64] |= uint64_t{1} << (p % 64);
    }
    (void)sampler_.mark_dirty(lru_, 0, dirty, kGuestPages);
    (void)age_if_inactive_low(lru_);
    auto st = lru_.check_invariants();
    ASSERT_TRUE(st) << st.error().message();
  }

  static PageLru make_lru() {
    auto l = PageLru::create(kGuestPages);
    EXPECT_TRUE(l);
    return std::move(*l);
  }

  PageLru lru_ = make_lru();
  PageSampler sampler_;
  SampleRound last_round_;
  std::set<uint64_t> resident_;
  std::set<uint64_t> working_set_;
};

TEST_P(AgingScenario, ReclaimTakesOnlyColdPages) {
  // Warm-up: two laps of the clock hand, so every page has been looked at twice.
  for (int round = 0; round < 8; ++round) ASSERT_NO_FATAL_FAILURE(run_round());

  for (uint64_t p : working_set_) EXPECT_EQ(lru_.list_of(p), LruList::active) << "working-set page " << p;
  EXPECT_EQ(lru_.nr_active(), kWorkingSet);
  // Every cold page has had its PTEs dropped and kept them dropped, so the last round's
  // budget went to the working set alone, and all of it faulted back.
  EXPECT_EQ(lru_.nr_sampled(), kResident - kWorkingSet);
  std::set<uint64_t> last;
  for (const PageRun& r : last_round_.to_unmap) {
    for (uint64_t i = r.first; i < r.first + r.count; ++i) last.insert(i);
  }
  EXPECT_EQ(last, working_set_);
  EXPECT_EQ(last_round_.cold, 0u);
  EXPECT_EQ(last_round_.faults, kWorkingSet);

  // Reclaim in batches of 32 while the guest keeps running, until only the working set is
  // left; a wrong victim would be a working-set page.
  std::set<uint64_t> reclaimed;
  for (int pass = 0; pass < 100 && lru_.nr_resident() > kWorkingSet; ++pass) {
    std::vector<uint64_t> victims;
    (void)shrink_lru(lru_, 32, kDefaultSwappiness, victims);
    for (uint64_t v : victims) {
      EXPECT_FALSE(working_set_.count(v)) << "reclaimed working-set page " << v << " in pass " << pass;
      EXPECT_TRUE(resident_.count(v)) << "reclaimed a page that was never resident: " << v;
      ASSERT_TRUE(lru_.remove(v));
      reclaimed.insert(v);
    }
    ASSERT_NO_FATAL_FAILURE(run_round());
  }
  EXPECT_EQ(reclaimed.size(), kResident - kWorkingSet);
  EXPECT_EQ(lru_.nr_resident(), kWorkingSet);
  for (uint64_t p : working_set_) EXPECT_TRUE(lru_.resident(p));
}

TEST_P(AgingScenario, FirstVictimsAreColdEvenWithinTheWarmUp) {
  // After one full lap only: working-set pages have at most one period's evidence, so they
  // are referenced inactive pages and get their second chance; the victims are still cold.
  for (int round = 0; round < 4; ++round) ASSERT_NO_FATAL_FAILURE(run_round());
  std::vector<uint64_t> victims;
  (void)lru_.isolate_cold(kResident - kWorkingSet, victims);
  ASSERT_EQ(victims.size(), kResident - kWorkingSet);
  for (uint64_t v : victims) EXPECT_FALSE(working_set_.count(v)) << "working-set page " << v;
}

INSTANTIATE_TEST_SUITE_P(Access, AgingScenario, ::testing::Values(Access::reads, Access::writes, Access::mixed),
                         access_name);

}  // namespace
}  // namespace tide::gmm::aging
