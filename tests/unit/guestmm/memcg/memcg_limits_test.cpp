// Unit: memcg settings — validation, bytes/pages and cgroup-v2 text ("max", "512M").
#include <gtest/gtest.h>

#include "guestmm/memcg/memcg_limits.hpp"

namespace tide::gmm::memcg {
namespace {

template <class R>
std::error_code code_of(const R& r) {
  return r ? std::error_code{} : r.error().code;
}
const std::error_code kInvalid = std::make_error_code(std::errc::invalid_argument);

TEST(MemcgLimits, DefaultsAreCgroupV2s) {
  MemcgSettings s;
  EXPECT_EQ(s.max, kUnlimited);
  EXPECT_EQ(s.high, kUnlimited);
  EXPECT_EQ(s.swap_max, kUnlimited);
  EXPECT_EQ(s.low, 0u);
  EXPECT_EQ(s.min, 0u);
  for (size_t k = 0; k < kLimitCount; ++k) {
    s.set(static_cast<Limit>(k), 100 + k);
    EXPECT_EQ(s.get(static_cast<Limit>(k)), 100 + k) << limit_name(static_cast<Limit>(k));
  }
}

TEST(MemcgLimits, ValidationRejectsHugeAmountsAndRootProtection) {
  EXPECT_TRUE(validate_limit(NodeKind::guest, Limit::max, kMaxPages));
  EXPECT_EQ(code_of(validate_limit(NodeKind::guest, Limit::max, kMaxPages + 1)), kInvalid);
  EXPECT_EQ(code_of(validate_limit(NodeKind::group, Limit::low, UINT64_MAX)), kInvalid);
  EXPECT_EQ(code_of(validate_limit(NodeKind::root, Limit::low, 1)), kInvalid);
  EXPECT_EQ(code_of(validate_limit(NodeKind::root, Limit::min, 1)), kInvalid);
  EXPECT_TRUE(validate_limit(NodeKind::root, Limit::low, 0));
  EXPECT_TRUE(validate_limit(NodeKind::root, Limit::max, 1000));
  EXPECT_TRUE(validate_limit(NodeKind::root, Limit::high, 1000));
  // Like the kernel, tide accepts orders that look odd: high above max, min above low.
  EXPECT_TRUE(validate_limit(NodeKind::guest, Limit::high, kUnlimited));
  EXPECT_TRUE(validate_limit(NodeKind::guest, Limit::min, 50));
}

TEST(MemcgLimits, BytesAndPages) {
  EXPECT_EQ(limit_pages_from_bytes(0).value(), 0u);
  EXPECT_EQ(limit_pages_from_bytes(8192).value(), 2u);
  EXPECT_EQ(limit_pages_from_bytes(UINT64_MAX).value(), kUnlimited);
  auto bad = limit_pages_from_bytes(4097);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("4096 or 8192"), std::string::npos) << bad.error().message();
  EXPECT_EQ(limit_bytes_from_pages(3), 3u * 4096);
  EXPECT_EQ(limit_bytes_from_pages(kUnlimited), UINT64_MAX);
}

TEST(MemcgLimits, ParsesCgroupText) {
  EXPECT_EQ(parse_limit("max").value(), kUnlimited);
  EXPECT_EQ(parse_limit("max\n").value(), kUnlimited);
  EXPECT_EQ(parse_limit("4096").value(), 1u);
  EXPECT_EQ(parse_limit("8K").value(), 2u);
  EXPECT_EQ(parse_limit("8k").value(), 2u);
  EXPECT_EQ(parse_limit(" 512M\n").value(), 131072u);
  EXPECT_EQ(parse_limit("1G").value(), 262144u);
  EXPECT_EQ(parse_limit("2T").value(), 2ull << 28);
  EXPECT_EQ(parse_limit("0").value(), 0u);
  for (const char* bad : {"", "M", "12x", "-1", "1.5G", "MAX", "1 G", "99999999999999999999", "20000000T",
                          "18446744073709551615", "1000"}) {
    EXPECT_EQ(code_of(parse_limit(bad)), kInvalid);
  }
}

TEST(MemcgLimits, FormatsLikeMemoryMaxReadsBack) {
  EXPECT_EQ(format_limit(kUnlimited), "max");
  EXPECT_EQ(format_limit(0), "0");
  EXPECT_EQ(format_limit(256), "1048576");
  EXPECT_EQ(parse_limit(format_limit(12345)).value(), 12345u);
}

}  // namespace
}  // namespace tide::gmm::memcg
