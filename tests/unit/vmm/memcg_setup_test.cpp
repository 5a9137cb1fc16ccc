// Unit: a guest's definition to its machine's memory cgroup (vmm/host/memcg_setup.hpp) —
// each <memtune> limit to its cgroup-v2 setting in pages (rounded up), swap_hard_limit's
// rule (memory plus swap: hard_limit comes off; without a finite hard_limit, the value as
// libvirt's cgroup v2 code writes it; unlimited is max), the partition as the group, tide's
// own settings, and the definitions that cannot be applied.
#include <gtest/gtest.h>

#include "vmm/host/memcg_setup.hpp"

namespace tide::vmm {
namespace {

namespace memcg = gmm::memcg;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t pages(uint64_t bytes) { return bytes / 4096; }

GuestConfig guest() {
  GuestConfig c;
  c.name = "g1";
  c.memory_bytes = kGiB;
  return c;
}

MachineMemcg mapped(const GuestConfig& c) {
  auto r = machine_memcg(c);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : MachineMemcg{};
}

// The pages written to `limit`, or nullopt when it is not written.
std::optional<uint64_t> written(const MachineMemcg& m, memcg::Limit limit) {
  std::optional<uint64_t> out;
  for (const MemcgLimitSetting& l : m.limits) {
    if (l.limit == limit) {
      EXPECT_FALSE(out) << memcg::limit_name(limit) << " written twice";
      out = l.pages;
    }
  }
  return out;
}

std::string error_of(const GuestConfig& c) {
  auto r = machine_memcg(c);
  EXPECT_FALSE(r) << "mapped";
  return r ? "" : r.error().message();
}

TEST(MemcgSetup, NothingSetWritesNothing) {
  const MachineMemcg m = mapped(guest());
  EXPECT_EQ(m, MachineMemcg{});
  EXPECT_EQ(m.oom_policy, gmm::reclaim::OomPolicy::stall);
  EXPECT_EQ(m.swappiness, 60u);
}

TEST(MemcgSetup, EachLimitToItsSettingInOrder) {
  GuestConfig c = guest();
  c.memtune.hard_limit = 768 * kMiB;
  c.memtune.soft_limit = 512 * kMiB;
  c.memtune.min_guarantee = 128 * kMiB;
  c.memory_control.low = 256 * kMiB;
  const MachineMemcg m = mapped(c);
  const std::vector<MemcgLimitSetting> want = {{memcg::Limit::max, pages(768 * kMiB)},
                                               {memcg::Limit::high, pages(512 * kMiB)},
                                               {memcg::Limit::low, pages(256 * kMiB)},
                                               {memcg::Limit::min, pages(128 * kMiB)}};
  EXPECT_EQ(m.limits, want);
}

TEST(MemcgSetup, UnlimitedIsMaxAndSizesRoundUpToPages) {
  GuestConfig c = guest();
  c.memtune.hard_limit = kUnlimited;
  c.memtune.soft_limit = 1000 * 1000 * 1000;  // not whole pages (tide JSON allows it)
  c.memtune.min_guarantee = 0;
  const MachineMemcg m = mapped(c);
  EXPECT_EQ(written(m, memcg::Limit::max), memcg::kUnlimited);
  EXPECT_EQ(written(m, memcg::Limit::high), 244141u);  // 10^9 / 4096 = 244140.6...
  EXPECT_EQ(written(m, memcg::Limit::min), 0u);
  EXPECT_FALSE(written(m, memcg::Limit::swap_max));
}

TEST(MemcgSetup, SwapHardLimitCountsMemoryPlusSwap) {
  GuestConfig c = guest();
  c.memtune.hard_limit = 512 * kMiB;
  c.memtune.swap_hard_limit = 768 * kMiB;
  EXPECT_EQ(written(mapped(c), memcg::Limit::swap_max), pages(256 * kMiB));
  // Equal: memory only, no swap at all.
  c.memtune.swap_hard_limit = 512 * kMiB;
  EXPECT_EQ(written(mapped(c), memcg::Limit::swap_max), 0u);
  // Unlimited: no swap limit, whatever hard_limit is.
  c.memtune.swap_hard_limit = kUnlimited;
  EXPECT_EQ(written(mapped(c), memcg::Limit::swap_max), memcg::kUnlimited);
}

TEST(MemcgSetup, SwapHardLimitWithoutAFiniteHardLimitIsWrittenAsItIs) {
  // libvirt's cgroup v2 code (virCgroupV2SetMemSwapHardLimit) writes the value itself.
  GuestConfig c = guest();
  c.memtune.swap_hard_limit = kGiB;
  MachineMemcg m = mapped(c);
  EXPECT_EQ(written(m, memcg::Limit::swap_max), pages(kGiB));
  EXPECT_FALSE(written(m, memcg::Limit::max));
  c.memtune.hard_limit = kUnlimited;
  m = mapped(c);
  EXPECT_EQ(written(m, memcg::Limit::swap_max), pages(kGiB));
  EXPECT_EQ(written(m, memcg::Limit::max), memcg::kUnlimited);
}

TEST(MemcgSetup, SwapHardLimitBelowHardLimitIsRefused) {
  GuestConfig c = guest();
  c.memtune.hard_limit = kGiB;
  c.memtune.swap_hard_limit = 512 * kMiB;
  const std::string e = error_of(c);
  EXPECT_NE(e.find("g1: memtune swap_hard_limit (512 MiB) is less than hard_limit (1 GiB)"), std::string::npos) << e;
  EXPECT_EQ(machine_memcg(c).error().code, std::errc::invalid_argument);
}

TEST(MemcgSetup, PartitionIsTheGroup) {
  GuestConfig c = guest();
  c.partition = "/tenant/team";
  EXPECT_EQ(mapped(c).group, "/tenant/team");
  c.partition = "/";
  EXPECT_EQ(mapped(c).group, "");
  c.partition = "/tenant/bad name";
  const std::string e = error_of(c);
  EXPECT_NE(e.find("g1: resource partition: memcg group '/tenant/bad name': bad name"), std::string::npos) << e;
}

TEST(MemcgSetup, TideSettings) {
  GuestConfig c = guest();
  c.memory_control.oom_policy = gmm::reclaim::OomPolicy::stop;
  c.memory_control.swappiness = 0;
  c.memory_control.swap_size_bytes = 100 * kMiB + 1;
  c.memory_control.swap_directory = "/srv/swap";
  MachineMemcg m = mapped(c);
  EXPECT_EQ(m.oom_policy, gmm::reclaim::OomPolicy::stop);
  EXPECT_EQ(m.swappiness, 0u);
  EXPECT_EQ(m.swap_bytes, 100 * kMiB + 4096);
  EXPECT_EQ(m.swap_directory, "/srv/swap");
  c.memory_control.swappiness = 201;
  EXPECT_NE(error_of(c).find("g1: swappiness 201 is out of range (0 to 200)"), std::string::npos);
  c.memory_control.swappiness = 10;
  c.memory_control.swap_directory = "swap";
  EXPECT_NE(error_of(c).find("g1: swap directory 'swap' is not absolute"), std::string::npos);
}

}  // namespace
}  // namespace tide::vmm
