// Unit: `tide run`'s memory-control flags — limits as sizes or "max" in whole pages, the
// OOM policy, swappiness's bounds, the swap file's size and directory — parsed from an argv
// the way run_command declares its options, and that nothing given means nothing set.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vmm/cli/memcg_flags.hpp"

namespace tide::vmm {
namespace {

namespace memcg = gmm::memcg;

constexpr uint64_t kMiB = uint64_t{1} << 20;

Args parsed(const std::vector<std::string>& argv) {
  std::set<std::string> with_value{"memory", "config", "balloon"};
  for (const char* f : kMemcgFlags) with_value.insert(f);
  Args args("run", with_value, {"help"});
  auto st = args.parse(argv);
  EXPECT_TRUE(st) << st.error().message();
  return args;
}

MachineMemcg flags_ok(const std::vector<std::string>& argv) {
  auto r = memcg_from_flags(parsed(argv));
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : MachineMemcg{};
}

std::string flags_error(const std::vector<std::string>& argv) {
  auto r = memcg_from_flags(parsed(argv));
  EXPECT_FALSE(r) << "parsed";
  return r ? "" : r.error().message();
}

TEST(MemcgFlags, NoneGivenSetNothing) {
  const Args args = parsed({"--memory", "512M"});
  EXPECT_FALSE(memcg_flags_given(args));
  EXPECT_EQ(flags_ok({"--memory", "512M"}), MachineMemcg{});
}

TEST(MemcgFlags, EveryLimit) {
  const MachineMemcg m = flags_ok({"--memory-max", "512M", "--memory-high=384M", "--memory-low", "64M",
                                   "--memory-min", "max", "--swap-max", "0"});
  const std::vector<MemcgLimitSetting> want = {{memcg::Limit::max, (512 * kMiB) >> 12},
                                               {memcg::Limit::high, (384 * kMiB) >> 12},
                                               {memcg::Limit::low, (64 * kMiB) >> 12},
                                               {memcg::Limit::min, memcg::kUnlimited},
                                               {memcg::Limit::swap_max, 0}};
  EXPECT_EQ(m.limits, want);
  EXPECT_TRUE(memcg_flags_given(parsed({"--swap-max", "0"})));
  // A bare number is MiB, as for every tide size flag.
  EXPECT_EQ(flags_ok({"--memory-max", "100"}).limits.at(0).pages, (100 * kMiB) >> 12);
}

TEST(MemcgFlags, ReclaimSettings) {
  const MachineMemcg m =
      flags_ok({"--oom-policy", "stop", "--swappiness", "200", "--swap-size", "1G", "--swap-dir", "/srv/swap"});
  EXPECT_EQ(m.oom_policy, gmm::reclaim::OomPolicy::stop);
  EXPECT_EQ(m.swappiness, 200u);
  EXPECT_EQ(m.swap_bytes, 1024 * kMiB);
  EXPECT_EQ(m.swap_directory, "/srv/swap");
  EXPECT_TRUE(m.limits.empty());
  EXPECT_EQ(flags_ok({"--swappiness", "0"}).swappiness, 0u);
}

TEST(MemcgFlags, ErrorsNameTheFlag) {
  struct Case {
    std::vector<std::string> argv;
    const char* want;
  };
  const Case cases[] = {
      {{"--memory-max", "lots"}, "--memory-max: bad size 'lots'"},
      {{"--memory-high", "1000B"}, "--memory-high: 1000 bytes is not a whole number of 4 KiB pages"},
      {{"--swap-max", "-1"}, "--swap-max: bad size '-1'"},
      {{"--oom-policy", "kill"}, "--oom-policy: unknown OOM policy 'kill' (expected 'stall' or 'stop')"},
      {{"--swappiness", "201"}, "--swappiness: '201' is not a number from 0 to 200"},
      {{"--swappiness", "-5"}, "--swappiness: '-5' is not a number from 0 to 200"},
      {{"--swappiness", "ten"}, "--swappiness: 'ten' is not a number from 0 to 200"},
      {{"--swap-size", "x"}, "--swap-size: bad size 'x'"},
      {{"--swap-size", "2048T"}, "--swap-size: '2048T' is larger than tide's 1 PiB"},
      {{"--swap-dir", ""}, "--swap-dir: give a directory"},
  };
  for (const Case& c : cases) {
    const std::string e = flags_error(c.argv);
    EXPECT_NE(e.find(c.want), std::string::npos) << c.argv[0] << " " << c.argv[1] << ": " << e;
  }
}

}  // namespace
}  // namespace tide::vmm
