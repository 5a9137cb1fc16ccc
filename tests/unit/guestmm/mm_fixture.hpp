// MmTest: a MemoryManager over a FakeHostMemory, without a fault server (the tests are the
// vCPUs), plus shorthands to add guests and to run every audit.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fake_host_memory.hpp"
#include "swap/fake_swap_file.hpp"
#include "guestmm/memory_manager.hpp"

namespace tide::gmm::fake {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;

class MmTest : public ::testing::Test {
 protected:
  void make(uint64_t pool_bytes, uint64_t hot_frames = 0) {
    MemoryManagerOptions o;
    o.pool_bytes = pool_bytes;
    o.hot_frames = hot_frames;
    o.fault_server = false;
    o.swap_files = &swap_files;
    o.reclaim.thread = false;  // tests run the reclaimer's rounds themselves
    auto r = MemoryManager::create(host, o);
    ASSERT_TRUE(r) << r.error().message();
    mm = std::move(*r);
  }
  GuestMm* add(const std::string& name, std::vector<RamRange> ranges) {
    auto r = mm->add_guest(name, ranges);
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return nullptr;
    guests.push_back(*r);
    return *r;
  }
  GuestMm* add(const std::string& name, uint64_t size_bytes) { return add(name, {RamRange{Gpa(0), size_bytes}}); }
  void remove(GuestMm* g) {
    std::erase(guests, g);
    mm->remove_guest(g);
  }
  [[nodiscard]] Status check() { return check_all(*mm, host, guests); }
  [[nodiscard]] FakePool& pool() { return *host.pool(); }
  [[nodiscard]] Mfn mfn_of(GuestMm* g, Gfn gfn) {
    auto i = g->p2m().index_of(gfn);
    EXPECT_TRUE(i);
    return g->p2m().load(*i).mfn();
  }
  [[nodiscard]] PageState state_of(GuestMm* g, Gfn gfn) { return g->p2m().load(*g->p2m().index_of(gfn)).state(); }

  void TearDown() override {
    if (mm) {
      EXPECT_TRUE(check()) << check().error().message();
    }
  }

  FakeHostMemory host;  // outlives the manager
  FakeSwapFiles swap_files;
  std::unique_ptr<MemoryManager> mm;
  std::vector<GuestMm*> guests;
};

// Asserts a Status/Result is good, printing its error.
#define TIDE_ASSERT_OK(expr)                                   \
  do {                                                         \
    const auto& tide_ok_ = (expr);                             \
    ASSERT_TRUE(tide_ok_) << tide_ok_.error().message();       \
  } while (0)
#define TIDE_EXPECT_OK(expr)                                   \
  do {                                                         \
    const auto& tide_ok_ = (expr);                             \
    EXPECT_TRUE(tide_ok_) << tide_ok_.error().message();       \
  } while (0)

}  // namespace tide::gmm::fake
