// Unit: the manager's locking under real threads, over the fake host — faults racing on one
// extent, faults racing releases, and the audit running while other threads release pages
// or add and remove guests (an audit must never see a frame in flight).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mm_fixture.hpp"

namespace tide::gmm::fake {
namespace {

using ConcurrencyTest = MmTest;

// Runs `work` on a thread while the calling thread audits in a loop; returns the first
// audit error (empty if every audit was clean) and how many audits ran.
template <class Work>
std::pair<std::string, uint64_t> audit_while(MemoryManager& mm, Work work) {
  std::atomic<bool> done{false};
  std::thread t([&] {
    work();
    done.store(true);
  });
  std::string first_error;
  uint64_t audits = 0;
  while (!done.load()) {
    auto st = mm.check_invariants();
    ++audits;
    if (!st && first_error.empty()) first_error = st.error().message();
    std::this_thread::yield();  // the audit holds every lock: let the worker in
  }
  t.join();
  return {first_error, audits};
}

TEST_F(ConcurrencyTest, AuditWhileAnotherThreadTouchesAndReleases) {
  make(16 * kMiB, /*hot_frames=*/16);
  GuestMm* g = add("g", 8 * kMiB);
  std::string worker_error;
  auto [error, audits] = audit_while(*mm, [&] {
    std::mt19937_64 rng(11);
    for (int i = 0; i < 1000 && worker_error.empty(); ++i) {
      const uint64_t first = rng() % 2000;
      if (auto st = touch(*g, Gfn(first), 1); !st) worker_error = st.error().message();
      // Small releases go through the guest's cache, large ones to the pool, some hot.
      const uint64_t n = (i % 3 == 0) ? 40 + rng() % 60 : 1 + rng() % 20;
      if (auto r = g->release_range(Gfn(first), n, PageState::empty); !r) worker_error = r.error().message();
    }
  });
  EXPECT_EQ(worker_error, "");
  EXPECT_EQ(error, "") << "after " << audits << " audits";
  EXPECT_GT(audits, 0u);
  TIDE_ASSERT_OK(check());
}

TEST_F(ConcurrencyTest, AuditWhileGuestsComeAndGo) {
  make(16 * kMiB, /*hot_frames=*/8);
  GuestMm* stays = add("stays", 4 * kMiB);
  TIDE_ASSERT_OK(touch(*stays, Gfn(0), 1));
  std::string worker_error;
  auto [error, audits] = audit_while(*mm, [&] {
    for (int i = 0; i < 60 && worker_error.empty(); ++i) {
      auto r = mm->add_guest("visitor", {RamRange{Gpa(0), 4 * kMiB}});
      if (!r) {
        worker_error = r.error().message();
        break;
      }
      for (uint64_t p = 0; p < 1024; p += 100) {
        if (auto st = touch(**r, Gfn(p), 2); !st) worker_error = st.error().message();
      }
      (void)(*r)->release_range(Gfn(0), 3, PageState::empty);
      mm->remove_guest(*r);
    }
  });
  EXPECT_EQ(worker_error, "");
  EXPECT_EQ(error, "") << "after " << audits << " audits";
  TIDE_ASSERT_OK(check());
  EXPECT_EQ(*read(*stays, Gfn(0)), 1u);
}

TEST_F(ConcurrencyTest, FaultsOnOneExtentFromManyThreads) {
  make(8 * kMiB);
  GuestMm* g = add("g", 2 * kMiB);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kPagesPerExtent; ++i) {
        const Gfn x((i * 7 + static_cast<uint64_t>(t) * 131) % kPagesPerExtent);
        auto v = read(*g, x);
        if (!v || *v != 0) bad.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  // The extent lock made one fault-around of all of them.
  EXPECT_EQ(g->stats().fault_around, 1u);
  EXPECT_EQ(g->stats().resident_frames, kPagesPerExtent);
  EXPECT_EQ(g->stats().faults, 1u);
  TIDE_ASSERT_OK(check());
}

TEST_F(ConcurrencyTest, FaultsRacingReleases) {
  make(8 * kMiB, /*hot_frames=*/32);
  GuestMm* g = add("g", 4 * kMiB);
  const uint64_t pages = g->p2m().nr_pages();
  auto value_of = [](uint64_t page) { return static_cast<uint8_t>(1 + page % 255); };
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> touches{0};
  std::string toucher_error;
  std::thread toucher([&] {
    std::mt19937_64 rng(5);
    while (!stop.load()) {
      const uint64_t p = rng() % pages;
      if (auto st = touch(*g, Gfn(p), value_of(p)); !st && toucher_error.empty()) toucher_error = st.error().message();
      touches.fetch_add(1);
    }
  });
  std::mt19937_64 rng(6);
  for (int i = 0; i < 2000 || touches.load() < 20000; ++i) {
    std::vector<Gfn> set;
    const uint64_t n = 1 + rng() % 64;
    for (uint64_t k = 0; k < n; ++k) set.push_back(Gfn(rng() % pages));
    auto r = g->release(set, i % 4 == 0 ? PageState::reported : PageState::empty);
    ASSERT_TRUE(r) << r.error().message();
  }
  stop.store(true);
  toucher.join();
  EXPECT_EQ(toucher_error, "");
  TIDE_ASSERT_OK(check());
  // Every page holds zeroes or its own value: never another page's, never a torn mix.
  for (uint64_t p = 0; p < pages; ++p) {
    const P2mEntry e = g->p2m().load(p);
    if (!e.has_frame()) continue;
    const std::byte* b = mm->backing().map() + (e.mfn().value() << kPageShift);
    const auto first = static_cast<uint8_t>(b[0]);
    ASSERT_TRUE(first == 0 || first == value_of(p)) << "page " << p;
    const std::vector<std::byte> same(kPageSize, b[0]);
    ASSERT_EQ(std::memcmp(b, same.data(), kPageSize), 0) << "page " << p << " is torn";
  }
}

}  // namespace
}  // namespace tide::gmm::fake
