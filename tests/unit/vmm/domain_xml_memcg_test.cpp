// Unit: the domain XML's memory control beyond <memtune> — <resource><partition> (the
// memcg group, checked as a group path), tide's <metadata><tide:memory> in its namespace
// (each attribute, its errors with their lines and paths), other applications' metadata
// passed over, and the group-path rules themselves.
#include <gtest/gtest.h>

#include "tests/unit/vmm/domain_xml_test_support.hpp"
#include "vmm/machine/machine_memcg.hpp"

namespace tide::vmm {
namespace {

using testing::contains;
using testing::Doc;
using testing::error_of;
using testing::no_schema;
using testing::warning_for;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

const char* const kNs = "xmlns:tide='https://tide.dev/xmlns/domain/1.0'";

GuestConfig parsed(const Doc& d) {
  auto r = parse_domain_xml(d.str());
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
  return r ? *r : GuestConfig{};
}

Doc with_tide_memory(const std::string& attributes) {
  Doc d;
  d.top = std::string("  <metadata><tide:memory ") + kNs + " " + attributes + "/></metadata>";
  return d;
}

TEST(DomainXmlMemcg, PartitionNamesTheGroup) {
  Doc d;
  d.top = "  <resource>\n    <partition>/tenant/team-a</partition>\n  </resource>";
  GuestConfig c = parsed(d);
  EXPECT_EQ(c.partition, "/tenant/team-a");
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  // No <resource>: the root.
  EXPECT_EQ(parsed(Doc{}).partition, "");
}

TEST(DomainXmlMemcg, BadPartitionsAreErrorsWithTheirLine) {
  Doc d;
  d.top = "  <resource>\n    <partition>/tenant/has space</partition>\n  </resource>";
  std::string e = error_of(parse_domain_xml(d.str()));
  EXPECT_TRUE(contains(e, "line 5: resource/partition: memcg group '/tenant/has space': bad name 'has space'")) << e;
  d.top = "  <resource><partition>/a/b/c/d/e/f/g</partition></resource>";
  e = error_of(parse_domain_xml(d.str()));
  EXPECT_TRUE(contains(e, "more than 6 levels of groups")) << e;
  d.top = "  <resource><partition>/a//b</partition></resource>";
  e = error_of(parse_domain_xml(d.str()));
  EXPECT_TRUE(contains(e, "empty name")) << e;
  // The schema wants an absolute path; without it, tide says the same.
  d.top = "  <resource><partition>tenant</partition></resource>";
  e = error_of(parse_domain_xml(d.str(), no_schema()));
  EXPECT_TRUE(contains(e, "resource/partition: memcg group 'tenant': a group path starts with '/'")) << e;
}

TEST(DomainXmlMemcg, FibreChannelIsAWarning) {
  Doc d;
  d.top = "  <resource><partition>/t</partition><fibrechannel appid='abc'/></resource>";
  GuestConfig c = parsed(d);
  EXPECT_EQ(c.partition, "/t");
  EXPECT_TRUE(contains(warning_for(c, "resource/fibrechannel"), "tide has no Fibre Channel; ignored"));
}

TEST(DomainXmlMemcg, TideMemoryEveryAttribute) {
  GuestConfig c = parsed(with_tide_memory(
      "oomPolicy='stop' swappiness='200' swapSize='1G' swapDirectory='/srv/swap' low='256M'"));
  const MemoryControlConfig& m = c.memory_control;
  ASSERT_TRUE(m.oom_policy);
  EXPECT_EQ(*m.oom_policy, gmm::reclaim::OomPolicy::stop);
  EXPECT_EQ(m.swappiness, 200u);
  EXPECT_EQ(m.swap_size_bytes, kGiB);
  EXPECT_EQ(m.swap_directory, "/srv/swap");
  EXPECT_EQ(m.low, 256 * kMiB);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();

  c = parsed(with_tide_memory("oomPolicy='stall' swappiness='0' low='max' swapSize='0'"));
  EXPECT_EQ(*c.memory_control.oom_policy, gmm::reclaim::OomPolicy::stall);
  EXPECT_EQ(c.memory_control.swappiness, 0u);
  EXPECT_EQ(c.memory_control.low, kUnlimited);
  EXPECT_EQ(c.memory_control.swap_size_bytes, 0u);  // 0: the guest's memory size
  // No element: every setting unset.
  EXPECT_EQ(parsed(Doc{}).memory_control, MemoryControlConfig{});
}

TEST(DomainXmlMemcg, TideMemoryErrorsNameTheAttributeAndLine) {
  struct Case {
    const char* attributes;
    const char* want;
  };
  const Case cases[] = {
      {"oomPolicy='kill'", "line 4: metadata/tide:memory@oomPolicy: unknown OOM policy 'kill' (expected 'stall' or 'stop')"},
      {"swappiness='201'", "line 4: metadata/tide:memory@swappiness: 201 is out of range (0 to 200)"},
      {"swappiness='-1'", "line 4: metadata/tide:memory@swappiness: "},
      {"swapSize='lots'", "line 4: metadata/tide:memory@swapSize: 'lots' is not a memory amount"},
      {"swapSize='max'", "line 4: metadata/tide:memory@swapSize: 'max': give the swap file's size"},
      {"swapSize='1000'", "line 4: metadata/tide:memory@swapSize: '1000': 1000 bytes is not a whole number of 4 KiB pages"},
      {"swapDirectory='tmp/swap'", "line 4: metadata/tide:memory@swapDirectory: 'tmp/swap' is not an absolute directory"},
      {"low='1x'", "line 4: metadata/tide:memory@low: '1x' is not a memory amount"},
      {"swapiness='10'", "line 4: metadata/tide:memory@swapiness: tide does not know this attribute; remove it"},
  };
  for (const Case& c : cases) {
    const std::string e = error_of(parse_domain_xml(with_tide_memory(c.attributes).str()));
    EXPECT_TRUE(contains(e, c.want)) << c.attributes << "\n" << e;
  }
}

TEST(DomainXmlMemcg, TideNamespaceIsStrictOthersArePassedOver) {
  Doc d;
  d.top = std::string("  <metadata>\n") +
          "    <app:x xmlns:app='http://example.org/app' oomPolicy='nonsense'><app:y/></app:x>\n" +
          "    <tide:cpu " + kNs + "/>\n" +
          "    <tide:memory " + kNs + " swappiness='10'/>\n" +
          "    <tide:memory " + kNs + " swappiness='20'/>\n" +
          "    <t:memory xmlns:t='https://tide.dev/xmlns/domain/1.0' swappiness='30'><t:limit/></t:memory>\n" +
          "  </metadata>";
  const std::string e = error_of(parse_domain_xml(d.str()));
  EXPECT_FALSE(contains(e, "app:")) << e;  // another application's metadata
  EXPECT_TRUE(contains(e, "line 6: metadata/tide:cpu: tide's namespace has no element 'cpu' (only memory); remove it")) << e;
  EXPECT_TRUE(contains(e, "line 8: metadata/tide:memory: appears more than once")) << e;
  // Any prefix bound to tide's namespace is tide's.
  EXPECT_TRUE(contains(e, "line 9: metadata/t:memory: appears more than once")) << e;

  d.top = std::string("  <metadata><tide:memory ") + kNs + " swappiness='10'><tide:x/></tide:memory></metadata>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())),
                       "metadata/tide:memory/tide:x: tide:memory takes attributes only; remove it"));
  // Only the first metadata element counts for the single-element rule too.
  d.top = "  <metadata/>\n  <metadata/>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 5: metadata: appears more than once"));
}

TEST(DomainXmlMemcg, GroupPathRules) {
  for (const char* good : {"/", "/tenant", "/a/b/c/d/e/f", "/t-1/x_2.y"}) {
    EXPECT_TRUE(check_memcg_group_path(good)) << good;
  }
  for (const char* bad : {"", "tenant", "/a/b/c/d/e/f/g", "//", "/a/", "/-a", "/a b", "/a/../b"}) {
    EXPECT_FALSE(check_memcg_group_path(bad)) << bad;
  }
  EXPECT_EQ(check_memcg_group_path("/" + std::string(65, 'x')).error().code, std::errc::invalid_argument);
}

}  // namespace
}  // namespace tide::vmm
