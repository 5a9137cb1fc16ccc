// Unit: libvirt's size units (vmm/config/units.hpp): every unit, the default, case,
// overflow, garbage, rounding and the sizes written back.
#include <gtest/gtest.h>

#include "vmm/config/units.hpp"

namespace tide::vmm {
namespace {

constexpr uint64_t kK = 1024;

TEST(Units, NoUnitIsTheDefaultScale) {
  EXPECT_EQ(*parse_scaled_size("512", ""), 512 * kK);  // domain XML's default: KiB
  EXPECT_EQ(*parse_scaled_size("512", "", 1), 512u);
  EXPECT_EQ(*libvirt_unit_scale("", 1024), 1024u);
}

TEST(Units, BinaryUnitsArePowersOf1024) {
  struct Case {
    const char* unit;
    uint64_t scale;
  };
  for (const Case& c : {Case{"k", kK}, Case{"KiB", kK}, Case{"M", kK * kK}, Case{"MiB", kK * kK},
                        Case{"G", kK * kK * kK}, Case{"GiB", kK * kK * kK}, Case{"T", uint64_t{1} << 40},
                        Case{"TiB", uint64_t{1} << 40}, Case{"P", uint64_t{1} << 50}, Case{"PiB", uint64_t{1} << 50},
                        Case{"E", uint64_t{1} << 60}, Case{"EiB", uint64_t{1} << 60}}) {
    EXPECT_EQ(*libvirt_unit_scale(c.unit, 1), c.scale) << c.unit;
    EXPECT_EQ(*parse_scaled_size("3", c.unit), 3 * c.scale) << c.unit;
  }
}

TEST(Units, DecimalUnitsArePowersOf1000) {
  struct Case {
    const char* unit;
    uint64_t scale;
  };
  for (const Case& c : {Case{"KB", 1000}, Case{"MB", 1000'000}, Case{"GB", 1000'000'000},
                        Case{"TB", 1000'000'000'000}, Case{"PB", 1000'000'000'000'000},
                        Case{"EB", 1000'000'000'000'000'000}}) {
    EXPECT_EQ(*libvirt_unit_scale(c.unit, 1), c.scale) << c.unit;
  }
}

TEST(Units, Bytes) {
  for (const char* unit : {"b", "B", "byte", "bytes", "Bytes", "BYTES"}) {
    EXPECT_EQ(*parse_scaled_size("4097", unit), 4097u) << unit;
  }
}

TEST(Units, CaseAsLibvirtAcceptsIt) {
  // virScaleInteger compares case-insensitively: kb is still 1000, KIB still 1024.
  EXPECT_EQ(*libvirt_unit_scale("kib", 1), kK);
  EXPECT_EQ(*libvirt_unit_scale("KIB", 1), kK);
  EXPECT_EQ(*libvirt_unit_scale("K", 1), kK);
  EXPECT_EQ(*libvirt_unit_scale("m", 1), kK * kK);
  EXPECT_EQ(*libvirt_unit_scale("gib", 1), kK * kK * kK);
  EXPECT_EQ(*libvirt_unit_scale("kb", 1), 1000u);
  EXPECT_EQ(*libvirt_unit_scale("Gb", 1), 1000'000'000u);
}

TEST(Units, UnknownUnitsAreErrors) {
  for (const char* unit : {"X", "KiBs", "Ki", "KBB", "iB", "Mi", " K", "K ", "kilobytes", "Z", "ZiB", "YB", "bit"}) {
    auto r = libvirt_unit_scale(unit, 1024);
    ASSERT_FALSE(r) << unit;
    EXPECT_NE(r.error().message().find("unknown unit"), std::string::npos) << r.error().message();
  }
}

TEST(Units, OverflowIsAnError) {
  EXPECT_EQ(*parse_scaled_size("15", "EiB"), 15 * (uint64_t{1} << 60));
  EXPECT_FALSE(parse_scaled_size("16", "EiB"));  // 2^64
  EXPECT_FALSE(parse_scaled_size("18446744073709551615", "KiB"));
  EXPECT_FALSE(parse_scaled_size("18446744073709551615", ""));  // the KiB default counts too
  EXPECT_EQ(*parse_scaled_size("18446744073709551615", "b"), UINT64_MAX);
  EXPECT_EQ(*parse_scaled_size("18446744073709551", "KB"), 18446744073709551000u);
  EXPECT_FALSE(parse_scaled_size("18446744073709552", "KB"));
  auto r = parse_scaled_size("20", "EiB");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("too large"), std::string::npos) << r.error().message();
}

TEST(Units, NumbersAreDecimalDigitsOnly) {
  for (const char* bad : {"", " ", "12x", "x12", "-1", "+5", "1.5", "0x10", "1e3", "1 2", "18446744073709551616",
                          "99999999999999999999999"}) {
    EXPECT_FALSE(parse_decimal_u64(bad)) << "'" << bad << "'";
    EXPECT_FALSE(parse_scaled_size(bad, "KiB")) << "'" << bad << "'";
  }
  EXPECT_EQ(*parse_decimal_u64("0"), 0u);
  EXPECT_EQ(*parse_decimal_u64("007"), 7u);
  EXPECT_EQ(*parse_decimal_u64("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(*parse_decimal_u64(" \t512\n "), 512u);  // XML whitespace around a number
}

TEST(Units, RoundUpTo) {
  EXPECT_EQ(*round_up_to(0, 4096), 0u);
  EXPECT_EQ(*round_up_to(1, 4096), 4096u);
  EXPECT_EQ(*round_up_to(4096, 4096), 4096u);
  EXPECT_EQ(*round_up_to(4097, 4096), 8192u);
  EXPECT_EQ(*round_up_to(UINT64_MAX - 4095, 4096), UINT64_MAX - 4095);
  EXPECT_FALSE(round_up_to(UINT64_MAX - 4094, 4096));
}

TEST(Units, WrittenAsLibvirtWritesThem) {
  EXPECT_EQ(to_libvirt_size(512u << 20).value, 524288u);
  EXPECT_STREQ(to_libvirt_size(512u << 20).unit, "KiB");
  EXPECT_EQ(to_libvirt_size(1000).value, 1000u);
  EXPECT_STREQ(to_libvirt_size(1000).unit, "bytes");
  EXPECT_EQ(to_libvirt_size(0).value, 0u);
}

TEST(Units, DescribeSize) {
  EXPECT_EQ(describe_size(512u << 20), "512 MiB");
  EXPECT_EQ(describe_size(4096), "4 KiB");
  EXPECT_EQ(describe_size(1000), "1000 bytes");
  EXPECT_EQ(describe_size(uint64_t{3} << 40), "3 TiB");
  EXPECT_EQ(describe_size(0), "0 bytes");
}

TEST(Units, LibvirtUnlimitedSentinel) {
  EXPECT_EQ(kLibvirtUnlimitedKiB, 9007199254740991u);  // VIR_DOMAIN_MEMORY_PARAM_UNLIMITED
}

}  // namespace
}  // namespace tide::vmm
