// Unit: seeded random stress of the whole memory manager over the fake host. Three guests
// (one with two RAM ranges and a partial last extent) share a 12 MiB pool (less than half their sum);
// thousands of random touches with known values, releases of random sets, sizes and
// states, read-backs, injected host failures and guest restarts. After every step: the full
// audit plus the fake's view of PTEs and host memory, and a check of every page's first and
// last byte against a model (the last value written, or zero once released). The seed is
// printed on failure; TIDE_STRESS_SEED=<n> reruns one seed.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "mm_fixture.hpp"

namespace tide::gmm::fake {
namespace {

struct StressParam {
  uint64_t seed;
  uint64_t hot_frames;
};

void PrintTo(const StressParam& p, std::ostream* os) { *os << "seed " << p.seed << ", hot_frames " << p.hot_frames; }

std::string param_name(const ::testing::TestParamInfo<StressParam>& p) {
  return "seed" + std::to_string(p.param.seed) + "_hot" + std::to_string(p.param.hot_frames);
}

struct Guest {
  std::string name;
  std::vector<RamRange> ranges;
  GuestMm* mm = nullptr;
  std::vector<uint8_t> expect;  // by P2M index
};

class Stress : public MmTest, public ::testing::WithParamInterface<StressParam> {
 protected:
  static constexpr int kSteps = 3000;

  void SetUp() override {
    seed = GetParam().seed;
    if (const char* s = std::getenv("TIDE_STRESS_SEED")) seed = std::strtoull(s, nullptr, 0);
    rng.seed(seed);
    make(12 * kMiB, GetParam().hot_frames);
    const Gfn high(4 * kGiB / kPageSize);
    specs = {
        Guest{"a", {RamRange{Gpa(0), 8 * kMiB}}, nullptr, {}},
        Guest{"b", {RamRange{Gpa(0), 6 * kMiB}, RamRange{gpa_of(high), 4 * kMiB + 3 * kPageSize}}, nullptr, {}},
        Guest{"c", {RamRange{Gpa(0), 11 * kMiB + 20 * kPageSize}}, nullptr, {}},
    };
    for (Guest& g : specs) start(g);
  }

  void start(Guest& g) {
    g.mm = add(g.name, g.ranges);
    ASSERT_NE(g.mm, nullptr);
    g.expect.assign(g.mm->p2m().nr_pages(), 0);
  }

  uint64_t pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); }
  uint8_t value() { return static_cast<uint8_t>(1 + pick(255)); }
  Gfn gfn_at(const Guest& g, uint64_t index) { return g.mm->p2m().gfn_at(index); }

  // A touch that may fail only for lack of memory, unless a failure was injected.
  void do_touch(Guest& g, uint64_t index, bool injected) {
    const uint8_t v = value();
    auto st = touch(*g.mm, gfn_at(g, index), v);
    if (st) {
      g.expect[index] = v;
      ++touched;
      return;
    }
    if (!injected) {
      // The pool is empty: the fault is parked for the reclaimer (no PTE yet).
      ASSERT_EQ(st.error().code, std::errc::resource_unavailable_try_again) << st.error().message();
      ++exhausted;
    }
  }

  void do_read(Guest& g, uint64_t index, bool injected) {
    auto v = read(*g.mm, gfn_at(g, index));
    if (v) {
      ASSERT_EQ(*v, g.expect[index]) << g.name << " GFN 0x" << std::hex << gfn_at(g, index).value();
      return;
    }
    if (!injected) {
      ASSERT_EQ(v.error().code, std::errc::resource_unavailable_try_again) << v.error().message();
      ++exhausted;
    }
  }

  void do_release(Guest& g, bool injected) {
    const uint64_t n = g.expect.size();
    // Mostly Empty (deflate, hook releases), so extents become untouched again and fault
    // around; ballooned and reported pages must stay frameless until touched one by one.
    const PageState to = std::array{PageState::empty, PageState::empty, PageState::empty, PageState::ballooned,
                                    PageState::reported}[pick(5)];
    std::vector<Gfn> req;
    std::vector<uint64_t> valid;
    switch (pick(4)) {
      case 0: {  // scattered, with duplicates and the odd non-RAM GFN
        const uint64_t size = 1 + pick(pick(2) ? 40 : 300);
        for (uint64_t k = 0; k < size; ++k) {
          if (pick(50) == 0) {
            req.push_back(Gfn(gfn_at(g, n - 1).value() + 1 + pick(1000)));
            continue;
          }
          const uint64_t i = pick(n);
          req.push_back(gfn_at(g, i));
          valid.push_back(i);
          if (pick(20) == 0) req.push_back(req.back());
        }
        break;
      }
      case 1: {  // a run, maybe off the end of a range
        const uint64_t first = pick(n), len = 1 + pick(pick(2) ? 16 : 600);
        for (uint64_t k = 0; k < len; ++k) {
          const Gfn x = gfn_at(g, first) + k;
          req.push_back(x);
          if (auto i = g.mm->p2m().index_of(x)) valid.push_back(*i);
        }
        break;
      }
      case 2: {  // a whole extent (or the partial last one)
        const uint64_t e = pick(g.mm->p2m().nr_extents());
        for (uint64_t k = 0; k < g.mm->p2m().extent_pages(e); ++k) {
          req.push_back(gfn_at(g, e * kPagesPerExtent + k));
          valid.push_back(e * kPagesPerExtent + k);
        }
        break;
      }
      default: {  // every other page of a stretch
        const uint64_t first = pick(n), len = 1 + pick(200);
        for (uint64_t i = first; i < n && i < first + 2 * len; i += 2) {
          req.push_back(gfn_at(g, i));
          valid.push_back(i);
        }
        break;
      }
    }
    auto r = g.mm->release(req, to);
    if (!r) {
      ASSERT_TRUE(injected) << r.error().message();
    } else {
      ASSERT_EQ(r->released + r->frameless + r->duplicates + r->outside, r->requested);
      ASSERT_EQ(r->requested, req.size());
    }
    // Even a release whose scrub failed has taken the pages back.
    for (uint64_t i : valid) {
      g.expect[i] = 0;
      ASSERT_FALSE(g.mm->p2m().load(i).has_frame());
      ASSERT_EQ(g.mm->p2m().load(i).state(), to);
    }
    ++releases;
  }

  // The model against the pool, without faulting anything in.
  void verify(bool whole_pages) {
    const std::byte* pool_map = mm->backing().map();
    for (const Guest& g : specs) {
      for (uint64_t i = 0; i < g.expect.size(); ++i) {
        const P2mEntry e = g.mm->p2m().load(i);
        if (!e.has_frame()) {
          ASSERT_EQ(g.expect[i], 0u) << g.name << " page " << i << " lost its frame but not its value";
          continue;
        }
        const std::byte* p = pool_map + (e.mfn().value() << kPageShift);
        const auto want = static_cast<std::byte>(g.expect[i]);
        if (whole_pages) {
          const std::vector<std::byte> page(kPageSize, want);
          ASSERT_EQ(std::memcmp(p, page.data(), kPageSize), 0) << g.name << " page " << i << " is not all " << int(g.expect[i]);
        } else {
          ASSERT_EQ(p[0], want) << g.name << " page " << i;
          ASSERT_EQ(p[kPageSize - 1], want) << g.name << " page " << i;
        }
      }
    }
  }

  void inject() {
    static constexpr HostOp kOps[] = {HostOp::map_frames, HostOp::fill_zero, HostOp::fill_present, HostOp::zap,
                                      HostOp::punch};
    const HostOp op = kOps[pick(std::size(kOps))];
    if ((op == HostOp::fill_zero || op == HostOp::punch || op == HostOp::zap) && pick(2)) {
      host.fail_next_partway(op, pick(op == HostOp::punch ? 4 : 300));
    } else {
      host.fail_next(op);
    }
  }

  void add_stats(const GuestMmStats& s) {
    faults += s.faults;
    around += s.fault_around;
    hot_reuses += s.hot_reuses;
  }

  uint64_t seed = 0;
  std::mt19937_64 rng;
  uint64_t faults = 0, around = 0, hot_reuses = 0;
  std::vector<Guest> specs;
  uint64_t touched = 0, exhausted = 0, releases = 0, restarts = 0;
};

TEST_P(Stress, TouchReleaseReadAcrossGuests) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun with TIDE_STRESS_SEED=" + std::to_string(seed) + ")");
  for (int step = 0; step < kSteps; ++step) {
    Guest& g = specs[pick(specs.size())];
    const uint64_t n = g.expect.size();
    const uint64_t op = pick(100);
    const bool injected = pick(16) == 0;
    if (injected) inject();
    if (op < 40) {
      do_touch(g, pick(n), injected);
    } else if (op < 55) {
      // Short runs, and now and then a long one that drives the pool to exhaustion.
      const uint64_t first = pick(n), len = 1 + pick(pick(8) == 0 ? 2000 : 128);
      for (uint64_t i = first; i < n && i < first + len; ++i) do_touch(g, i, injected);
    } else if (op < 72) {
      do_release(g, injected);
    } else if (op < 97) {
      do_read(g, pick(n), injected);
    } else if (op < 98) {
      // A restart: the guest goes with all its frames and comes back empty.
      add_stats(g.mm->stats());
      remove(g.mm);
      start(g);
      ++restarts;
    } else {
      verify(/*whole_pages=*/true);
    }
    host.clear_failures();
    if (HasFatalFailure()) {
      FAIL() << "step " << step;
    }
    auto st = check();
    ASSERT_TRUE(st) << "step " << step << ": " << st.error().message();
    verify(/*whole_pages=*/false);
    if (HasFatalFailure()) FAIL() << "step " << step;
  }
  verify(/*whole_pages=*/true);
  // The run did what it is for.
  EXPECT_GT(touched, 1000u);
  EXPECT_GT(exhausted, 0u) << "the pool never ran out";
  EXPECT_GT(releases, 300u);
  for (const Guest& g : specs) add_stats(g.mm->stats());
  EXPECT_GT(around, 0u);
  if (GetParam().hot_frames > 0) {
    EXPECT_GT(hot_reuses, 0u);
  }
  RecordProperty("faults", std::to_string(faults));
  std::cout << "touched " << touched << " exhausted " << exhausted << " releases " << releases << " restarts " << restarts
            << " faults " << faults << " around " << around << " hot " << hot_reuses << "\n";
}

INSTANTIATE_TEST_SUITE_P(Seeds, Stress,
                         ::testing::Values(StressParam{1, 0}, StressParam{2, 64}, StressParam{3, 8},
                                           StressParam{20240611, 0}, StressParam{77, 512}),
                         param_name);

}  // namespace
}  // namespace tide::gmm::fake
