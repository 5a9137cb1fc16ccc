// Unit: `tide bench` refuses bad options with status 1 before starting any VMM, and
// answers --help.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vmm/cli/bench_command.hpp"

namespace tide::vmm {
namespace {

TEST(BenchCommand, HelpAndUnknownExperiments) {
  EXPECT_EQ(bench_command({}), 2);
  EXPECT_EQ(bench_command({"--help"}), 0);
  EXPECT_EQ(bench_command({"balloon", "--help"}), 0);
  EXPECT_EQ(bench_command({"boot"}), 1);
  EXPECT_NE(std::string(kBenchHelp).find("--compare tide|qemu"), std::string::npos);
}

TEST(BenchCommand, BadOptionsFailBeforeAnyVmmStarts) {
  const std::vector<std::vector<std::string>> bad = {
      {"balloon", "--schedule", "100,abc"},
      {"balloon", "--schedule", "100"},
      {"balloon", "--memory", "1000K"},
      {"balloon", "--memory", "8M"},
      {"balloon", "--vmm", "xen"},
      {"balloon", "--compare", "tide"},  // --vmm is tide already
      {"balloon", "--vmm", "qemu", "--compare", "kvmtool"},
      {"balloon", "--runs", "0"},
      {"balloon", "--runs", "101"},
      {"balloon", "--step-timeout", "0"},
      {"balloon", "--step-timeout", "abc"},
      {"balloon", "--stats-period", "1.5"},
      {"balloon", "--stats-period", "-1"},
      {"balloon", "--log-level", "loud"},
      {"balloon", "--bogus"},
      {"balloon", "extra"},
  };
  for (const auto& args : bad) {
    std::string text;
    for (const auto& a : args) text += a + " ";
    EXPECT_EQ(bench_command(args), 1) << text;
  }
}

}  // namespace
}  // namespace tide::vmm
