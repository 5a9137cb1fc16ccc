// Unit: parse_domain_xml reads every element and attribute tide implements, with
// libvirt's units, defaults and rounding; values tide cannot use are errors naming the
// element and its line. Documents are schema-validated unless a test says otherwise.
#include <gtest/gtest.h>

#include "tests/unit/vmm/domain_xml_test_support.hpp"

namespace tide::vmm {
namespace {

using testing::contains;
using testing::Doc;
using testing::error_of;
using testing::no_schema;
using testing::warning_for;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

GuestConfig parse_ok(const std::string& xml, const DomainXmlOptions& options = {}) {
  auto r = parse_domain_xml(xml, options);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message()) << "\n" << xml;
  return r ? *r : GuestConfig{};
}

TEST(DomainXmlParse, MinimalDomainAndDefaults) {
  GuestConfig c = parse_ok(Doc{}.str());
  EXPECT_EQ(c.name, "t");
  EXPECT_EQ(c.uuid, "");
  EXPECT_EQ(c.memory_bytes, 512 * kMiB);
  EXPECT_FALSE(c.current_memory_bytes);
  EXPECT_EQ(c.vcpus, 1u);
  EXPECT_FALSE(c.current_vcpus);
  EXPECT_EQ(c.kernel, "");  // no kernel: tideguest
  EXPECT_EQ(c.initrd, "");
  EXPECT_EQ(c.cmdline, "");
  EXPECT_EQ(c.memtune, MemtuneConfig{});
  EXPECT_EQ(c.backing, MemoryBackingConfig{});
  EXPECT_TRUE(c.balloon.enabled);  // no <memballoon>: libvirt's default virtio balloon
  EXPECT_FALSE(c.balloon.autodeflate);
  EXPECT_FALSE(c.balloon.free_page_reporting);
  EXPECT_EQ(c.balloon.stats_period_s, 0u);
  EXPECT_FALSE(c.rng);  // no <rng>: no entropy device
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::null);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(DomainXmlParse, Uuid) {
  Doc d;
  d.top = "  <uuid>6F1C2D0E8A4B4C3D9E5F0A1B2C3D4E5F</uuid>";
  EXPECT_EQ(parse_ok(d.str()).uuid, "6f1c2d0e-8a4b-4c3d-9e5f-0a1b2c3d4e5f");
  d.top = "  <uuid>6f1c2d0e-8a4b-4c3d-9e5f-0A1B2C3D4E5F</uuid>";
  EXPECT_EQ(parse_ok(d.str()).uuid, "6f1c2d0e-8a4b-4c3d-9e5f-0a1b2c3d4e5f");
  d.top = "  <uuid>6f1c2d0e-8a4b4c3d-9e5f-0a1b2c3d4e5f0</uuid>";
  const std::string e = error_of(parse_domain_xml(d.str(), no_schema()));
  EXPECT_TRUE(contains(e, "line 4: uuid: '6f1c2d0e-8a4b4c3d-9e5f-0a1b2c3d4e5f0' is not a UUID")) << e;
}

TEST(DomainXmlParse, NameRules) {
  std::string xml = Doc{}.str();
  xml.replace(xml.find("<name>t</name>"), 14, "<name>a/b</name>");
  EXPECT_TRUE(contains(error_of(parse_domain_xml(xml)), "line 2: name: 'a/b' contains '/'"));
  xml = Doc{}.str();
  xml.erase(xml.find("  <name>t</name>\n"), 17);
  EXPECT_TRUE(contains(error_of(parse_domain_xml(xml, no_schema())), "name: the domain has no <name>"));
}

TEST(DomainXmlParse, MemoryInEveryUnit) {
  struct Case {
    const char* memory;
    uint64_t bytes;
  };
  const Case cases[] = {
      {"<memory>524288</memory>", 512 * kMiB},  // the default unit is KiB
      {"<memory unit='KiB'>524288</memory>", 512 * kMiB},
      {"<memory unit='k'>524288</memory>", 512 * kMiB},
      {"<memory unit='MiB'>512</memory>", 512 * kMiB},
      {"<memory unit='M'>512</memory>", 512 * kMiB},
      {"<memory unit='GiB'>2</memory>", 2 * kGiB},
      {"<memory unit='G'>2</memory>", 2 * kGiB},
      {"<memory unit='TiB'>1</memory>", 1024 * kGiB},
      {"<memory unit='b'>536870912</memory>", 512 * kMiB},
      {"<memory unit='bytes'>536870912</memory>", 512 * kMiB},
      {"<memory unit='KB'>524288</memory>", 524288000},
      {"<memory unit='MB'>512</memory>", 512000000},
      {"<memory unit='GB'>2</memory>", 2000003072},  // 2e9 rounded up to 4 KiB pages
      {"<memory unit='mib'>512</memory>", 512 * kMiB},
      {"<memory unit='gb'>1</memory>", 1000001536},
  };
  for (const Case& c : cases) {
    Doc d;
    d.memory = c.memory;
    EXPECT_EQ(parse_ok(d.str()).memory_bytes, c.bytes) << c.memory;
  }
}

TEST(DomainXmlParse, HugeUnitsAreOutOfRangeNotOverflow) {
  // Units above TiB exist but no guest of tide's is that large.
  for (const char* memory : {"<memory unit='PiB'>1</memory>", "<memory unit='EiB'>1</memory>",
                             "<memory unit='PB'>1</memory>", "<memory unit='EB'>1</memory>"}) {
    Doc d;
    d.memory = memory;
    EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 3: memory: ")) << memory;
  }
}

TEST(DomainXmlParse, MemoryRoundsUpTo4KiB) {
  Doc d;
  d.memory = "<memory unit='KiB'>524289</memory>";
  EXPECT_EQ(parse_ok(d.str()).memory_bytes, 524292 * 1024u);
  d.memory = "<memory unit='MiB'> 512\n</memory>";  // libxml2's schema check rejects the spaces
  EXPECT_EQ(parse_ok(d.str(), no_schema()).memory_bytes, 512 * kMiB);
  d.memory = "<memory unit='bytes'>536870913</memory>";
  EXPECT_EQ(parse_ok(d.str()).memory_bytes, 512 * kMiB + 4096);
  d.memory = "<memory unit='b'>536870912</memory>";
  EXPECT_EQ(parse_ok(d.str()).memory_bytes, 512 * kMiB);
}

TEST(DomainXmlParse, MemoryRange) {
  Doc d;
  d.memory = "<memory unit='MiB'>8</memory>";
  EXPECT_EQ(parse_ok(d.str()).memory_bytes, 8 * kMiB);
  d.memory = "<memory unit='TiB'>1</memory>";
  EXPECT_EQ(parse_ok(d.str()).memory_bytes, 1024 * kGiB);
  d.memory = "<memory unit='MiB'>4</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 3: memory: 4 MiB is outside tide's range (8 MiB to 1 TiB)"));
  d.memory = "<memory unit='GiB'>1025</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 3: memory: 1025 GiB is outside tide's range"));
  d.memory = "<memory>0</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 3: memory: 0 bytes is outside"));
  d.memory = "";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "memory: the domain has no <memory>"));
}

TEST(DomainXmlParse, MemoryOverflowAndGarbage) {
  Doc d;
  d.memory = "<memory unit='EiB'>16</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 3: memory: 16 EiB is too large"));
  d.memory = "<memory>18446744073709551615</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 3: memory: 18446744073709551615 KiB is too large"));
  // Garbage fails the schema first; without it, tide's own check names the element.
  d.memory = "<memory unit='MiB'>12x</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 3:"));
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 3: memory: '12x' is not a number"));
  d.memory = "<memory unit='XiB'>512</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 3: memory: unknown unit 'XiB'"));
  d.memory = "<memory unit='MiB'>-512</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 3: memory: '-512' is not a number"));
  d.memory = "<memory unit='MiB'></memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 3: memory: empty value"));
}

TEST(DomainXmlParse, CurrentMemory) {
  Doc d;
  d.top = "  <currentMemory unit='MiB'>384</currentMemory>";
  EXPECT_EQ(*parse_ok(d.str()).current_memory_bytes, 384 * kMiB);
  d.top = "  <currentMemory>393217</currentMemory>";  // KiB, rounded up to 4 KiB
  EXPECT_EQ(*parse_ok(d.str()).current_memory_bytes, 393220 * 1024u);
  d.top = "  <currentMemory unit='MiB'>512</currentMemory>";  // equal to memory
  EXPECT_EQ(*parse_ok(d.str()).current_memory_bytes, 512 * kMiB);
  d.top = "  <currentMemory>0</currentMemory>";  // libvirt: 0 means all of <memory>
  EXPECT_FALSE(parse_ok(d.str()).current_memory_bytes);
}

TEST(DomainXmlParse, CurrentMemoryAboveMemoryIsAnError) {
  Doc d;
  d.top = "  <currentMemory unit='MiB'>513</currentMemory>";
  const std::string e = error_of(parse_domain_xml(d.str()));
  EXPECT_TRUE(contains(e, "line 4: currentMemory: 513 MiB is more than <memory> (512 MiB)")) << e;
  // Compared after rounding: 512 MiB + 1 byte rounds to a page more than memory.
  d.top = "  <currentMemory unit='b'>536870913</currentMemory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 4: currentMemory:"));
}

TEST(DomainXmlParse, Vcpu) {
  Doc d;
  d.top = "  <vcpu>4</vcpu>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_EQ(c.vcpus, 4u);
  EXPECT_FALSE(c.current_vcpus);
  d.top = "  <vcpu current='2'>4</vcpu>";
  c = parse_ok(d.str());
  EXPECT_EQ(c.vcpus, 4u);
  EXPECT_EQ(*c.current_vcpus, 2u);
  d.top = "  <vcpu>254</vcpu>";
  EXPECT_EQ(parse_ok(d.str()).vcpus, 254u);
}

TEST(DomainXmlParse, VcpuLimits) {
  Doc d;
  d.top = "  <vcpu>0</vcpu>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 4:"));  // the schema: at least 1
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 4: vcpu: 0 is out of range (1 to 254)"));
  d.top = "  <vcpu>255</vcpu>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 4: vcpu: 255 is out of range (1 to 254)"));
  d.top = "  <vcpu current='5'>4</vcpu>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 4: vcpu@current: 5 is more than the 4 vCPUs"));
  d.top = "  <vcpu>four</vcpu>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 4: vcpu: 'four' is not a number"));
}

TEST(DomainXmlParse, VcpuPinningIsAWarning) {
  Doc d;
  d.top = "  <vcpu placement='static' cpuset='0-3'>2</vcpu>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_EQ(c.vcpus, 2u);
  EXPECT_TRUE(contains(warning_for(c, "vcpu@cpuset"), "'0-3': tide does not pin vCPUs"));
  EXPECT_EQ(c.warnings.size(), 1u);  // static placement is libvirt's default: nothing asked
  d.top = "  <vcpu placement='auto'>2</vcpu>";
  EXPECT_TRUE(contains(warning_for(parse_ok(d.str()), "vcpu@placement"), "'auto': tide does not place vCPUs"));
}

TEST(DomainXmlParse, OsKernelInitrdCmdline) {
  Doc d;
  d.os = "<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel><initrd>/boot/initrd.img</initrd>"
         "<cmdline>console=ttyS0 tide.run=\"rng 64; exit 0\" a&lt;b</cmdline></os>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_EQ(c.kernel, "/boot/vmlinuz");
  EXPECT_EQ(c.initrd, "/boot/initrd.img");
  EXPECT_EQ(c.cmdline, "console=ttyS0 tide.run=\"rng 64; exit 0\" a<b");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(DomainXmlParse, OsType) {
  Doc d;
  d.os = "<os><type>hvm</type></os>";  // no arch: x86_64
  EXPECT_TRUE(parse_ok(d.str()).warnings.empty());
  d.os = "<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>";
  EXPECT_TRUE(contains(warning_for(parse_ok(d.str()), "os/type@machine"), "'pc-q35-7.2'"));
  d.os = "<os><type arch='aarch64'>hvm</type></os>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "os/type@arch: 'aarch64': tide runs x86_64 guests only"));
  d.os = "<os><type>exe</type><init>/bin/sh</init></os>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "os/type: 'exe': tide runs hardware-virtualized (hvm)"));
}

TEST(DomainXmlParse, CmdlineLongerThanTheBootAreaIsAnError) {
  Doc d;
  d.os = "<os><type>hvm</type><cmdline>" + std::string(65536, 'x') + "</cmdline></os>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "os/cmdline: 65536 bytes is longer than tide's limit of 65535"));
  d.os = "<os><type>hvm</type><cmdline>" + std::string(65535, 'x') + "</cmdline></os>";
  EXPECT_EQ(parse_ok(d.str()).cmdline.size(), 65535u);
}

TEST(DomainXmlParse, MemtuneEveryLimit) {
  Doc d;
  d.top = "  <memtune>\n"
          "    <hard_limit unit='GiB'>1</hard_limit>\n"
          "    <soft_limit unit='MiB'>768</soft_limit>\n"
          "    <swap_hard_limit>2097152</swap_hard_limit>\n"
          "    <min_guarantee unit='KB'>1000</min_guarantee>\n"
          "  </memtune>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_EQ(*c.memtune.hard_limit, kGiB);
  EXPECT_EQ(*c.memtune.soft_limit, 768 * kMiB);
  EXPECT_EQ(*c.memtune.swap_hard_limit, 2 * kGiB);         // KiB by default
  EXPECT_EQ(*c.memtune.min_guarantee, 1003520u);           // 1,000,000 bytes up to 4 KiB pages
  EXPECT_TRUE(c.warnings.empty());                         // read and kept, not a warning
  d.top = "  <memtune><soft_limit unit='MiB'>100</soft_limit></memtune>";
  c = parse_ok(d.str());
  EXPECT_FALSE(c.memtune.hard_limit);
  EXPECT_EQ(*c.memtune.soft_limit, 100 * kMiB);
}

TEST(DomainXmlParse, MemtuneUnlimited) {
  Doc d;
  // -1 is virsh memtune's spelling; libvirt's schema rejects it in XML, so it only reaches
  // tide with validation off.
  d.top = "  <memtune>\n    <hard_limit>-1</hard_limit>\n    <soft_limit unit='KiB'> -1 </soft_limit>\n  </memtune>";
  GuestConfig c = parse_ok(d.str(), no_schema());
  EXPECT_EQ(*c.memtune.hard_limit, kUnlimited);
  EXPECT_EQ(*c.memtune.soft_limit, kUnlimited);
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "does not match libvirt's schema"));
  // libvirt's own "unlimited" (what it writes), and anything at or above it.
  for (const char* limit : {"<hard_limit unit='KiB'>9007199254740991</hard_limit>",
                            "<hard_limit unit='KiB'>9007199254740992</hard_limit>",
                            "<hard_limit unit='b'>9223372036854774785</hard_limit>",
                            "<hard_limit unit='EiB'>8</hard_limit>"}) {
    d.top = std::string("  <memtune>") + limit + "</memtune>";
    EXPECT_EQ(*parse_ok(d.str()).memtune.hard_limit, kUnlimited) << limit;
  }
  d.top = "  <memtune><hard_limit unit='KiB'>9007199254740988</hard_limit></memtune>";
  EXPECT_EQ(*parse_ok(d.str()).memtune.hard_limit, 9007199254740988u * 1024);
  // Rounded up to a page, it reaches the sentinel: unlimited, as libvirt would read it back.
  d.top = "  <memtune><hard_limit unit='KiB'>9007199254740989</hard_limit></memtune>";
  EXPECT_EQ(*parse_ok(d.str()).memtune.hard_limit, kUnlimited);
  d.top = "  <memtune><hard_limit unit='EiB'>16</hard_limit></memtune>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "memtune/hard_limit: 16 EiB is too large"));
  d.top = "  <memtune><hard_limit unit='MiB'>lots</hard_limit></memtune>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 4: memtune/hard_limit: 'lots' is not a number"));
}

TEST(DomainXmlParse, SwapHardLimitBelowHardLimitIsAnError) {
  Doc d;
  d.top = "  <memtune><hard_limit unit='GiB'>2</hard_limit><swap_hard_limit unit='GiB'>1</swap_hard_limit></memtune>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "memtune/swap_hard_limit: 1 GiB is less than hard_limit (2 GiB)"));
  d.top = "  <memtune><hard_limit unit='GiB'>2</hard_limit><swap_hard_limit unit='GiB'>2</swap_hard_limit></memtune>";
  EXPECT_EQ(*parse_ok(d.str()).memtune.swap_hard_limit, 2 * kGiB);
}

TEST(DomainXmlParse, MemoryBackingEverySetting) {
  Doc d;
  d.memory = "<memory unit='GiB'>2</memory>";
  d.top = "  <memoryBacking>\n"
          "    <hugepages><page size='2' unit='M' nodeset='0'/></hugepages>\n"
          "    <nosharepages/>\n"
          "    <locked/>\n"
          "    <source type='memfd'/>\n"
          "    <access mode='shared'/>\n"
          "    <allocation mode='immediate' threads='8'/>\n"
          "    <discard/>\n"
          "  </memoryBacking>";
  GuestConfig c = parse_ok(d.str());
  const MemoryBackingConfig& b = c.backing;
  EXPECT_TRUE(b.hugepages);
  ASSERT_EQ(b.hugepage_sizes.size(), 1u);
  EXPECT_EQ(b.hugepage_sizes[0].size_bytes, 2 * kMiB);
  EXPECT_EQ(b.hugepage_sizes[0].nodeset, "0");
  EXPECT_TRUE(b.nosharepages);
  EXPECT_TRUE(b.locked);
  EXPECT_EQ(b.source_type, "memfd");
  EXPECT_EQ(b.access_mode, "shared");
  EXPECT_EQ(b.allocation_mode, "immediate");
  EXPECT_EQ(*b.allocation_threads, 8u);
  EXPECT_TRUE(b.discard);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(DomainXmlParse, MemoryBackingValues) {
  Doc d;
  for (const char* type : {"file", "anonymous", "memfd"}) {
    d.top = std::string("  <memoryBacking><source type='") + type + "'/></memoryBacking>";
    EXPECT_EQ(parse_ok(d.str()).backing.source_type, type);
  }
  for (const char* mode : {"shared", "private"}) {
    d.top = std::string("  <memoryBacking><access mode='") + mode + "'/></memoryBacking>";
    EXPECT_EQ(parse_ok(d.str()).backing.access_mode, mode);
  }
  d.top = "  <memoryBacking><allocation mode='ondemand'/></memoryBacking>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_EQ(c.backing.allocation_mode, "ondemand");
  EXPECT_FALSE(c.backing.allocation_threads);
  d.top = "  <memoryBacking><allocation threads='0'/></memoryBacking>";  // libvirt: 0 is unset
  EXPECT_FALSE(parse_ok(d.str()).backing.allocation_threads);
  d.top = "  <memoryBacking><hugepages/></memoryBacking>";  // the host's default hugepage size
  c = parse_ok(d.str());
  EXPECT_TRUE(c.backing.hugepages);
  EXPECT_TRUE(c.backing.hugepage_sizes.empty());
  d.top = "  <memoryBacking><source type='shm'/></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())),
                       "line 4: memoryBacking/source@type: 'shm' is not file, anonymous or memfd"));
  d.top = "  <memoryBacking><access mode='public'/></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "memoryBacking/access@mode: 'public'"));
  d.top = "  <memoryBacking><allocation mode='lazy'/></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "memoryBacking/allocation@mode: 'lazy'"));
}

TEST(DomainXmlParse, HugepageSizes) {
  Doc d;
  d.memory = "<memory unit='GiB'>2</memory>";
  struct Case {
    const char* page;
    uint64_t bytes;
  };
  for (const Case& c : {Case{"<page size='2048'/>", 2 * kMiB}, Case{"<page size='2048' unit='KiB'/>", 2 * kMiB},
                        Case{"<page size='1' unit='G'/>", kGiB}, Case{"<page size='4' unit='KiB'/>", 4096},
                        Case{"<page size='2097152' unit='b'/>", 2 * kMiB}}) {
    d.top = std::string("  <memoryBacking><hugepages>") + c.page + "</hugepages></memoryBacking>";
    GuestConfig g = parse_ok(d.str());
    ASSERT_EQ(g.backing.hugepage_sizes.size(), 1u) << c.page;
    EXPECT_EQ(g.backing.hugepage_sizes[0].size_bytes, c.bytes) << c.page;
  }
  d.top = "  <memoryBacking><hugepages><page size='3' unit='M'/></hugepages></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())),
                       "line 4: memoryBacking/hugepages/page@size: 3 MiB is not an x86-64 page size"));
  d.top = "  <memoryBacking><hugepages><page size='2' unit='Q'/></hugepages></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "page@size: unknown unit 'Q'"));
}

TEST(DomainXmlParse, HugepageNodesetsNameNodeZeroOnly) {
  Doc d;
  for (const char* nodeset : {"0", "0-1,^1", "0,0"}) {
    d.top = std::string("  <memoryBacking><hugepages><page size='2048' nodeset='") + nodeset +
            "'/></hugepages></memoryBacking>";
    EXPECT_EQ(parse_ok(d.str()).backing.hugepage_sizes.at(0).nodeset, nodeset);
  }
  for (const char* nodeset : {"1", "0-1", "0,2", "^0", "1-3,^2"}) {
    d.top = std::string("  <memoryBacking><hugepages><page size='2048' nodeset='") + nodeset +
            "'/></hugepages></memoryBacking>";
    EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "tide's guest has one NUMA node, node 0"))
        << nodeset;
  }
  d.top = "  <memoryBacking><hugepages><page size='2048' nodeset='3-1'/></hugepages></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "'3-1' is not a node set"));
  // Two sizes for the one node.
  d.top = "  <memoryBacking><hugepages><page size='2048'/><page size='1' unit='G' nodeset='0'/></hugepages></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "more than one page size for node 0"));
}

TEST(DomainXmlParse, HugepageConsistency) {
  Doc d;
  d.memory = "<memory unit='MiB'>1536</memory>";
  d.top = "  <memoryBacking><hugepages><page size='1' unit='GiB'/></hugepages></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 3: memory: 1536 MiB is not a whole number of 1 GiB hugepages"));
  d.memory = "<memory unit='MiB'>512</memory>";
  d.top = "  <memoryBacking><hugepages/><source type='anonymous'/></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "hugepages cannot come from an anonymous memory source"));
  d.top = "  <memoryBacking><hugepages/><allocation mode='ondemand'/></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "hugepages cannot be allocated on demand"));
}

TEST(DomainXmlParse, Memballoon) {
  Doc d;
  d.devices = "    <memballoon model='virtio' autodeflate='on' freePageReporting='on'>\n"
              "      <stats period='10'/>\n"
              "    </memballoon>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_TRUE(c.balloon.enabled);
  EXPECT_TRUE(c.balloon.autodeflate);
  EXPECT_TRUE(c.balloon.free_page_reporting);
  EXPECT_EQ(c.balloon.stats_period_s, 10u);
  EXPECT_TRUE(c.warnings.empty());

  d.devices = "    <memballoon model='virtio' autodeflate='off' freePageReporting='off'/>";
  c = parse_ok(d.str());
  EXPECT_TRUE(c.balloon.enabled);
  EXPECT_FALSE(c.balloon.autodeflate);
  EXPECT_FALSE(c.balloon.free_page_reporting);
  EXPECT_EQ(c.balloon.stats_period_s, 0u);

  d.devices = "    <memballoon model='none'/>";
  EXPECT_FALSE(parse_ok(d.str()).balloon.enabled);

  d.devices = "    <memballoon model='virtio-non-transitional'/>";
  c = parse_ok(d.str());
  EXPECT_TRUE(c.balloon.enabled);
  EXPECT_TRUE(c.warnings.empty());
  d.devices = "    <memballoon model='virtio-transitional'/>";
  c = parse_ok(d.str());
  EXPECT_TRUE(c.balloon.enabled);
  EXPECT_TRUE(contains(warning_for(c, "devices/memballoon@model"), "modern-only"));

  d.devices = "    <memballoon model='virtio'><stats period='0'/></memballoon>";  // the schema wants > 0
  EXPECT_EQ(parse_ok(d.str(), no_schema()).balloon.stats_period_s, 0u);
}

TEST(DomainXmlParse, MemballoonErrors) {
  Doc d;
  d.devices = "    <memballoon model='xen'/>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 6: devices/memballoon@model: 'xen'"));
  d.devices = "    <memballoon model='virtio' autodeflate='yes'/>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())),
                       "line 6: devices/memballoon@autodeflate: 'yes' is not on or off"));
  d.devices = "    <memballoon model='virtio'><stats period='often'/></memballoon>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "devices/memballoon/stats@period: 'often'"));
  d.devices = "    <memballoon model='virtio'/>\n    <memballoon model='none'/>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 7: devices/memballoon: appears more than once"));
  d.devices = "    <memballoon/>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "devices/memballoon@model: the model is missing"));
}

TEST(DomainXmlParse, MemballoonPlacementIsAWarning) {
  Doc d;
  d.devices = "    <memballoon model='virtio'>\n"
              "      <alias name='balloon0'/>\n"
              "      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>\n"
              "      <driver iommu='on'/>\n"
              "    </memballoon>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_TRUE(contains(warning_for(c, "devices/memballoon/address"), "line 8: devices/memballoon/address: tide places its devices itself; ignored"));
  EXPECT_TRUE(contains(warning_for(c, "devices/memballoon/driver"), "virtio driver options"));
  EXPECT_EQ(c.warnings.size(), 2u);  // the alias is a name, nothing to implement
}

TEST(DomainXmlParse, Rng) {
  Doc d;
  d.devices = "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_TRUE(c.rng);
  EXPECT_TRUE(c.warnings.empty());
  for (const char* backend : {"<backend model='random'/>", "<backend model='random'>/dev/random</backend>",
                              "<backend model='builtin'/>"}) {
    d.devices = std::string("    <rng model='virtio'>") + backend + "</rng>";
    c = parse_ok(d.str());
    EXPECT_TRUE(c.rng) << backend;
    EXPECT_TRUE(c.warnings.empty()) << backend;
  }
  d.devices = "    <rng model='virtio'><backend model='random'>/dev/hwrng</backend><rate bytes='1234' period='2000'/></rng>";
  c = parse_ok(d.str());
  EXPECT_TRUE(c.rng);
  EXPECT_TRUE(contains(warning_for(c, "devices/rng/backend"), "'/dev/hwrng'"));
  EXPECT_TRUE(contains(warning_for(c, "devices/rng/rate"), "ignored"));
  d.devices = "    <rng model='virtio'><backend model='egd' type='tcp'><source mode='connect' host='localhost' service='1234'/></backend></rng>";
  EXPECT_TRUE(contains(warning_for(parse_ok(d.str()), "devices/rng/backend"), "model 'egd'"));
  d.devices = "    <rng model='virtio'><backend model='random'/></rng>\n    <rng model='virtio'><backend model='random'/></rng>";
  c = parse_ok(d.str());
  EXPECT_TRUE(c.rng);
  EXPECT_TRUE(contains(warning_for(c, "devices/rng"), "line 7: devices/rng: tide has one entropy device"));
}

TEST(DomainXmlParse, SerialKinds) {
  struct Case {
    const char* device;
    ConsoleConfig::Kind kind;
    const char* path;
  };
  for (const Case& c : {Case{"<serial type='pty'/>", ConsoleConfig::Kind::pty, ""},
                        Case{"<serial type='stdio'><target port='0'/></serial>", ConsoleConfig::Kind::stdio, ""},
                        Case{"<serial type='null'/>", ConsoleConfig::Kind::null, ""},
                        Case{"<serial type='file'><source path='/var/log/g.log'/></serial>", ConsoleConfig::Kind::file,
                             "/var/log/g.log"},
                        Case{"<serial type='pty'><source path='/dev/pts/9'/><target type='isa-serial' port='0'>"
                             "<model name='isa-serial'/></target></serial>",
                             ConsoleConfig::Kind::pty, ""},
                        Case{"<console type='stdio'/>", ConsoleConfig::Kind::stdio, ""},
                        Case{"<console type='file'><source path='/tmp/c.log'/><target type='serial'/></console>",
                             ConsoleConfig::Kind::file, "/tmp/c.log"}}) {
    Doc d;
    d.devices = std::string("    ") + c.device;
    GuestConfig g = parse_ok(d.str());
    EXPECT_EQ(g.console.kind, c.kind) << c.device;
    EXPECT_EQ(g.console.path, c.path) << c.device;
    EXPECT_TRUE(g.warnings.empty()) << c.device << ": " << (g.warnings.empty() ? "" : g.warnings[0]);
  }
}

TEST(DomainXmlParse, SerialTypeDefaultsToPty) {
  Doc d;  // the schema wants type=; libvirt's parser defaults it to pty
  d.devices = "    <serial/>";
  EXPECT_EQ(parse_ok(d.str(), no_schema()).console.kind, ConsoleConfig::Kind::pty);
}

TEST(DomainXmlParse, SerialAndConsoleAreOnePort) {
  Doc d;
  d.devices = "    <serial type='pty'><target port='0'/></serial>\n"
              "    <console type='pty' tty='/dev/pts/3'><target type='serial' port='0'/></console>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::pty);
  EXPECT_TRUE(c.warnings.empty());
  // A console that says something else than the serial port: COM1 is the serial port.
  d.devices = "    <serial type='file'><source path='/tmp/s.log'/></serial>\n"
              "    <console type='pty'><target type='serial' port='0'/></console>";
  c = parse_ok(d.str());
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::file);
  EXPECT_EQ(c.console.path, "/tmp/s.log");
  EXPECT_TRUE(contains(warning_for(c, "devices/console"), "line 7: devices/console: differs from the devices/serial on line 6"));
}

TEST(DomainXmlParse, ConsoleAndSerialWarnings) {
  Doc d;
  d.devices = "    <console type='pty'><target type='virtio' port='0'/></console>";
  GuestConfig c = parse_ok(d.str());
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::null);
  EXPECT_TRUE(contains(warning_for(c, "devices/console"), "target type 'virtio'"));
  d.devices = "    <serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/><protocol type='telnet'/></serial>";
  c = parse_ok(d.str());
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::null);
  EXPECT_TRUE(contains(warning_for(c, "devices/serial@type"), "'tcp': tide's serial port goes to a pty, a file, stdio or nowhere"));
  d.devices = "    <serial type='pty'><target port='0'/></serial>\n    <serial type='pty'><target port='1'/></serial>";
  c = parse_ok(d.str());
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::pty);
  EXPECT_TRUE(contains(warning_for(c, "devices/serial"), "line 7: devices/serial: port 1: tide has one serial port"));
  d.devices = "    <serial type='pty'><target type='pci-serial' port='0'><model name='pci-serial'/></target></serial>";
  c = parse_ok(d.str());
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::pty);
  EXPECT_TRUE(contains(warning_for(c, "devices/serial/target@type"), "'pci-serial'"));
  EXPECT_TRUE(contains(warning_for(c, "devices/serial/target/model"), "'pci-serial'"));
  d.devices = "    <serial type='file'><source path='/tmp/s.log'/><log file='/tmp/l.log'/></serial>";
  EXPECT_TRUE(contains(warning_for(parse_ok(d.str()), "devices/serial/log"), "ignored"));
}

TEST(DomainXmlParse, FileConsoleNeedsAPath) {
  Doc d;
  d.devices = "    <serial type='file'><target port='0'/></serial>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 6: devices/serial: type 'file' needs <source path="));
}

TEST(DomainXmlParse, RootMustBeDomain) {
  const std::string e = error_of(parse_domain_xml("<network><name>n</name></network>", no_schema()));
  EXPECT_TRUE(contains(e, "line 1: network: the root element is <network>, not <domain>")) << e;
}

TEST(DomainXmlParse, DomainTypeOtherThanKvm) {
  std::string xml = Doc{}.str();
  xml.replace(xml.find("type='kvm'"), 10, "type='qemu'");
  EXPECT_TRUE(contains(warning_for(parse_ok(xml), "domain@type"), "'qemu': tide always runs the guest with KVM"));
}

TEST(DomainXmlParse, SingleElementsAppearOnce) {
  Doc d;
  d.top = "  <memory unit='MiB'>256</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "line 4: memory: appears more than once"));
}

TEST(DomainXmlParse, EveryProblemIsReportedAtOnce) {
  Doc d;
  d.memory = "<memory unit='MiB'>4</memory>";
  d.top = "  <vcpu>300</vcpu>\n  <maxMemory slots='4' unit='GiB'>8</maxMemory>";
  const std::string e = error_of(parse_domain_xml(d.str()));
  EXPECT_TRUE(contains(e, "domain XML has settings tide cannot use:\n")) << e;
  EXPECT_TRUE(contains(e, "\nline 3: memory: 4 MiB is outside")) << e;
  EXPECT_TRUE(contains(e, "\nline 4: vcpu: 300 is out of range")) << e;
  EXPECT_TRUE(contains(e, "\nline 5: maxMemory: ")) << e;
}

}  // namespace
}  // namespace tide::vmm
