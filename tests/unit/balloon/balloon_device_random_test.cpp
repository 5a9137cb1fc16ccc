// Unit: a seeded random driver against BalloonDevice, compared step by step with a simple
// model (a set of ballooned PFNs and expected fault counts): inflates and deflates with
// duplicates, pages outside RAM and pages in the wrong state, compaction migrations,
// reports, stats, target changes, backend failures and resets with a different feature
// subset each time. After every step: check_invariants(), the balloon equals the model,
// and the backend never saw a page twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "balloon/balloon_device.hpp"
#include "unit/balloon/balloon_harness.hpp"

namespace tide::balloon {
namespace {

using test::BalloonHarness;
using test::kAllFeatures;
using test::kPage;

class RandomDriver {
 public:
  explicit RandomDriver(uint64_t seed) : rng_(seed) {}

  void run(int steps) {
    ASSERT_TRUE(h_.activate(kAllFeatures));
    for (int step = 0; step < steps; ++step) {
      SCOPED_TRACE(::testing::Message() << "step " << step << " op " << last_op_);
      this->step();
      if (::testing::Test::HasFatalFailure()) return;
      verify();
      if (::testing::Test::HasFailure()) return;
    }
  }

 private:
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(unsigned percent) { return below(100) < percent; }
  bool has(QueueRole role) const { return queue_index(role, h_.negotiated).has_value(); }

  // PFNs drawn from a small pool so that duplicates and state clashes are frequent.
  uint32_t pick_pfn() {
    switch (below(10)) {
      case 0: return static_cast<uint32_t>((20 * test::kMiB) / kPage + below(16));  // the hole
      case 1: return 0xffffff00u + static_cast<uint32_t>(below(256));               // far outside
      case 2:
      case 3: return static_cast<uint32_t>(BalloonHarness::kHighRamGfn + below(48));
      default: return static_cast<uint32_t>(200 + below(64));
    }
  }
  bool is_ram(uint32_t pfn) const { return h_.backend.page_index(gmm::Gfn(pfn)).has_value(); }

  // Sends one inflate or deflate and applies it to the model.
  void pfn_request(bool inflate, std::vector<uint32_t> pfns) {
    const bool fail = chance(10);
    (inflate ? h_.backend.fail_inflates : h_.backend.fail_deflates) = fail ? 1 : 0;
    std::set<uint32_t> seen;
    std::vector<uint32_t> accepted;
    for (uint32_t pfn : pfns) {
      if (!is_ram(pfn)) {
        ++expect_[BalloonFault::kPfnOutsideRam];
      } else if (!seen.insert(pfn).second) {
        ++expect_[BalloonFault::kPfnDuplicate];
      } else if (model_.count(pfn) == (inflate ? 1u : 0u)) {
        ++expect_[inflate ? BalloonFault::kPfnAlreadyBallooned : BalloonFault::kPfnNotBallooned];
      } else {
        accepted.push_back(pfn);
      }
    }
    if (inflate) {
      h_.inflate(pfns);
    } else {
      h_.deflate(pfns);
    }
    if (accepted.empty()) {
      // The backend was not called: an armed failure is still pending; disarm it.
      h_.backend.fail_inflates = h_.backend.fail_deflates = 0;
      return;
    }
    if (fail) {
      expect_[BalloonFault::kBackendError] += accepted.size();
      return;
    }
    for (uint32_t pfn : accepted) {
      if (inflate) {
        model_.insert(pfn);
      } else {
        model_.erase(pfn);
      }
    }
  }

  void report() {
    const bool fail = chance(10);
    h_.backend.fail_reports = fail ? 1 : 0;
    std::vector<std::pair<uint64_t, uint32_t>> buffers;
    std::set<uint32_t> seen;
    uint64_t good = 0;
    for (uint64_t n = 1 + below(3); n > 0; --n) {
      uint64_t pfn = chance(70) ? 200 + below(64) : BalloonHarness::kHighRamGfn + below(48);
      auto pages = static_cast<uint32_t>(1 + below(8));
      if (chance(10)) {
        buffers.emplace_back(pfn * kPage + 8, pages * kPage);  // misaligned
        ++expect_[BalloonFault::kReportMisaligned];
        continue;
      }
      buffers.emplace_back(pfn * kPage, pages * kPage);
      for (uint32_t k = 0; k < pages; ++k) {
        auto p = static_cast<uint32_t>(pfn + k);
        if (model_.count(p)) {
          ++expect_[BalloonFault::kReportBallooned];
        } else if (!seen.insert(p).second) {
          ++expect_[BalloonFault::kReportDuplicate];
        } else {
          ++good;
        }
      }
    }
    h_.report(buffers);
    if (good == 0) {
      h_.backend.fail_reports = 0;
    } else if (fail) {
      expect_[BalloonFault::kBackendError] += good;
    } else {
      reported_ += good;
    }
  }

  void step() {
    last_op_ = below(100);
    if (last_op_ < 30) {
      std::vector<uint32_t> pfns;
      for (uint64_t n = below(24); n > 0; --n) pfns.push_back(pick_pfn());
      pfn_request(true, pfns);
    } else if (last_op_ < 55) {
      std::vector<uint32_t> pfns;
      for (uint64_t n = below(24); n > 0; --n) {
        if (!model_.empty() && chance(70)) {
          auto it = model_.begin();
          std::advance(it, static_cast<long>(below(model_.size())));
          pfns.push_back(*it);
        } else {
          pfns.push_back(pick_pfn());
        }
      }
      pfn_request(false, pfns);
    } else if (last_op_ < 65) {
      // Balloon compaction: a new page in, an old page out.
      if (model_.empty()) return;
      uint32_t fresh = pick_pfn();
      auto it = model_.begin();
      std::advance(it, static_cast<long>(below(model_.size())));
      uint32_t old = *it;
      pfn_request(true, {fresh});
      pfn_request(false, {old});
    } else if (last_op_ < 72) {
      h_.device->set_target_pages(below(400));
    } else if (last_op_ < 82) {
      if (has(QueueRole::kReporting)) report();
    } else if (last_op_ < 90) {
      if (!has(QueueRole::kStats)) return;
      if (chance(50)) {
        h_.send_stats({{VIRTIO_BALLOON_S_AVAIL, below(1u << 30)}});
        ++stats_buffers_;
        if (holding_) ++expect_[BalloonFault::kStatsExtraBuffer];
        holding_ = true;
      } else {
        EXPECT_EQ(h_.device->request_stats(), holding_);
        holding_ = false;
      }
    } else if (last_op_ < 96) {
      h_.write_actual(static_cast<uint32_t>(model_.size()));
    } else {
      // Driver reset (reboot), then a driver with another feature subset.
      h_.reset();
      model_.clear();
      holding_ = false;
      const uint64_t features = kAllFeatures & rng_();
      ASSERT_TRUE(h_.activate(features));
    }
  }

  void verify() {
    Status st = h_.device->check_invariants();
    ASSERT_TRUE(st) << st.error().message();
    ASSERT_TRUE(h_.backend.violations.empty()) << h_.backend.violations.front();
    ASSERT_EQ(h_.device->balloon_pages(), model_.size());
    ASSERT_EQ(h_.backend.ballooned, std::set<uint64_t>(model_.begin(), model_.end()));
    const BalloonCounters c = h_.counters();
    for (size_t k = 0; k < kBalloonFaultKinds; ++k) {
      const auto kind = static_cast<BalloonFault>(k);
      auto it = expect_.find(kind);
      ASSERT_EQ(c.fault(kind), it == expect_.end() ? 0u : it->second) << balloon_fault_name(kind);
    }
    ASSERT_EQ(c.reported_pages, reported_);
    ASSERT_EQ(c.stats_buffers, stats_buffers_);
  }

  std::mt19937_64 rng_;
  BalloonHarness h_;
  std::set<uint32_t> model_;
  std::map<BalloonFault, uint64_t> expect_;
  uint64_t reported_ = 0;
  uint64_t stats_buffers_ = 0;
  bool holding_ = false;
  uint64_t last_op_ = 0;
};

TEST(BalloonDeviceRandom, MatchesTheModel) {
  for (uint64_t seed : {1u, 2u, 3u, 20240601u}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    RandomDriver driver(seed);
    driver.run(3000);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace tide::balloon
