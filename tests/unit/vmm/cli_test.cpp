// Unit: command-line sizes and option parsing.
#include <gtest/gtest.h>

#include "vmm/cli/args.hpp"
#include "vmm/cli/size.hpp"

namespace tide::vmm {
namespace {

TEST(ParseSize, UnitsAndBareNumbers) {
  EXPECT_EQ(*parse_size("512M"), 512ull << 20);
  EXPECT_EQ(*parse_size("512"), 512ull << 20);  // bare number: MiB, as QEMU's -m
  EXPECT_EQ(*parse_size("2G"), 2ull << 30);
  EXPECT_EQ(*parse_size("2GiB"), 2ull << 30);
  EXPECT_EQ(*parse_size("64k"), 64ull << 10);
  EXPECT_EQ(*parse_size("1T"), 1ull << 40);
  EXPECT_EQ(*parse_size("4096B"), 4096ull);
}

TEST(ParseSize, RejectsGarbage) {
  for (const char* bad : {"", "M", "12X", "-5M", "1.5G", "99999999999999999999", "16777216T", "5 M"}) {
    EXPECT_FALSE(parse_size(bad)) << bad;
  }
}

TEST(FormatSize, Readable) {
  EXPECT_EQ(format_size(512ull << 20), "512 MiB");
  EXPECT_EQ(format_size(3ull << 29), "1.5 GiB");
  EXPECT_EQ(format_size(100), "100 B");
}

TEST(Args, ValuesFlagsAndErrors) {
  Args a("run", {"memory", "kernel"}, {"help"});
  ASSERT_TRUE(a.parse({"--memory", "1G", "--kernel=/k", "--help", "pos"}));
  EXPECT_EQ(*a.get("memory"), "1G");
  EXPECT_EQ(*a.get("kernel"), "/k");
  EXPECT_TRUE(a.has("help"));
  EXPECT_EQ(a.positional(), std::vector<std::string>{"pos"});

  Args b("run", {"memory"}, {"help"});
  auto r = b.parse({"--bogus"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("unknown option --bogus"), std::string::npos);
  Args c("run", {"memory"}, {});
  EXPECT_FALSE(c.parse({"--memory"}));  // missing value
  Args d("run", {}, {"help"});
  EXPECT_FALSE(d.parse({"--help=yes"}));
  Args e("run", {}, {});
  EXPECT_FALSE(e.parse({"-x"}));
}

}  // namespace
}  // namespace tide::vmm
