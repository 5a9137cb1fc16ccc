// Integration: a tiny guest over its memcg max with real KVM, userfaultfd and a real swap
// file. It writes a marker derived from each page's address into 3000 pages spread over
// 48 MiB (24 extents: 48 MiB of fault-around against a 16 MiB max), so most of them must
// go to the swap file while it runs; then it reads every marker back through the fault
// path (UFFDIO_COPY from the file). The memcg usage never goes above the max and every
// marker comes back intact.
#include <atomic>
#include <thread>

#include "tiny_vm.hpp"

namespace tide::test {
namespace {

using gmm::Gpa;

TEST(SwapIntegration, AGuestOverItsMaxIsSwappedOutAndBackWithItsDataIntact) {
  TIDE_REQUIRE_KVM();
  TinyVm t(1, 64ull << 20);
  constexpr uint64_t kMaxPages = 4096;  // 16 MiB
  ASSERT_TRUE(t.mm().set_memcg_limit(t.guest().memcg_id(), gmm::memcg::Limit::max, kMaxPages));
  std::vector<uint64_t> addrs;
  for (uint64_t a = 0x1000000; a < 0x4000000 && addrs.size() < 3000; a += 0x4000) addrs.push_back(a + 8 * (addrs.size() % 500));
  auto mem = t.vm().memory();
  ASSERT_TRUE(mem.write_obj<uint64_t>(Gpa(0x3000), addrs.size()));
  for (size_t i = 0; i < addrs.size(); ++i) ASSERT_TRUE(mem.write_obj<uint64_t>(Gpa(0x3008 + 8 * i), addrs[i]));
  std::atomic<bool> touched{false};
  std::atomic<uint32_t> intact{0xffffffff}, zero{0xffffffff};
  t.add_pio(0x600, 1, nullptr, [&](uint64_t, std::span<const uint8_t>) { touched = true; });
  t.add_pio(0x608, 4, nullptr, [&](uint64_t, std::span<const uint8_t> d) { intact = static_cast<uint32_t>(le_value(d)); });
  t.add_pio(0x60c, 4, nullptr, [&](uint64_t, std::span<const uint8_t> d) { zero = static_cast<uint32_t>(le_value(d)); });
  t.load(tiny_touch_start, tiny_touch_end);
  ASSERT_TRUE(t.vm().start());
  auto usage = [&] { return t.mm().memcg().snapshot(t.guest().memcg_id())->current; };
  uint64_t highest = 0;
  while (!touched) {
    highest = std::max(highest, usage());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_LE(highest, kMaxPages);
  const auto after_writes = t.guest().stats();
  EXPECT_GT(after_writes.swap_out, 0u);
  EXPECT_GT(after_writes.swapped_pages, 0u);
  {
    auto st = t.mm().check_invariants();
    ASSERT_TRUE(st) << st.error().message();
  }
  // Let the guest read everything back.
  ASSERT_TRUE(mem.write_obj<uint64_t>(Gpa(0x2ff8), 1));
  vmm::VmExit exit;
  std::thread waiter([&] { exit = t.vm().wait(); });
  while (intact.load() == 0xffffffff) {
    highest = std::max(highest, usage());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  waiter.join();
  ASSERT_EQ(exit.kind, vmm::VmExit::Kind::debug_exit) << exit.message;
  EXPECT_EQ(intact.load(), addrs.size());
  EXPECT_EQ(zero.load(), 0u);
  EXPECT_LE(highest, kMaxPages);
  const auto s = t.guest().stats();
  EXPECT_GT(s.swap_in, 0u);
  EXPECT_EQ(t.fault_errors(), 0u);
  auto snap = t.mm().memcg().snapshot(t.guest().memcg_id());
  EXPECT_LE(snap->peak, kMaxPages);
  EXPECT_GT(snap->events[gmm::memcg::Event::max], 0u);
  EXPECT_EQ(snap->swap_current, s.swapped_pages);
  auto st = t.mm().check_invariants();
  EXPECT_TRUE(st) << st.error().message();
}

}  // namespace
}  // namespace tide::test
