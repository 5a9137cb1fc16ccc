// Unit: the documented examples (docs/examples) and real-world domain XMLs
// (tests/unit/vmm/fixtures: virt-install output, a running domain's dumpxml, the Cloud
// Hypervisor driver's example, OpenStack Nova's NUMA guest, a memory-hotplug guest), and
// format_domain_xml round trips.
#include <gtest/gtest.h>

#include "tests/unit/vmm/domain_xml_test_support.hpp"

namespace tide::vmm {
namespace {

using testing::contains;
using testing::error_of;
using testing::fixture_path;
using testing::source_path;
using testing::warning_for;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

GuestConfig load_ok(const std::string& path) {
  auto r = load_domain_xml(path);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
  return r ? *r : GuestConfig{};
}

GuestConfig without_warnings(GuestConfig c) {
  c.warnings.clear();
  return c;
}

TEST(DomainXmlFixtures, TideguestExample) {
  const GuestConfig c = load_ok(source_path("docs/examples/tideguest.xml"));
  EXPECT_EQ(c.name, "tideguest");
  EXPECT_EQ(c.uuid, "6f1c2d0e-8a4b-4c3d-9e5f-0a1b2c3d4e5f");
  EXPECT_EQ(c.memory_bytes, 512 * kMiB);
  EXPECT_EQ(*c.current_memory_bytes, 384 * kMiB);
  EXPECT_EQ(c.vcpus, 1u);
  EXPECT_EQ(c.kernel, "");  // tideguest
  EXPECT_TRUE(contains(c.cmdline, "tide.run=\"")) << c.cmdline;
  EXPECT_EQ(*c.memtune.hard_limit, 640 * kMiB);
  EXPECT_EQ(*c.memtune.soft_limit, 448 * kMiB);
  EXPECT_TRUE(c.balloon.enabled);
  EXPECT_TRUE(c.balloon.autodeflate);
  EXPECT_TRUE(c.balloon.free_page_reporting);
  EXPECT_EQ(c.balloon.stats_period_s, 10u);
  EXPECT_TRUE(c.rng);
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::stdio);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
}

TEST(DomainXmlFixtures, LinuxExample) {
  const GuestConfig c = load_ok(source_path("docs/examples/linux.xml"));
  EXPECT_EQ(c.name, "linux");
  EXPECT_EQ(c.memory_bytes, 2 * kGiB);
  EXPECT_EQ(*c.current_memory_bytes, kGiB);
  EXPECT_EQ(c.vcpus, 2u);
  EXPECT_EQ(c.kernel, "/var/lib/tide/images/vmlinuz");
  EXPECT_EQ(c.initrd, "/var/lib/tide/images/initramfs.img");
  EXPECT_TRUE(contains(c.cmdline, "console=ttyS0"));
  EXPECT_EQ(*c.memtune.hard_limit, 3 * kGiB);
  EXPECT_EQ(*c.memtune.swap_hard_limit, 4 * kGiB);
  EXPECT_TRUE(c.backing.discard);
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::pty);
  EXPECT_TRUE(c.rng);
  EXPECT_TRUE(c.balloon.free_page_reporting);
  EXPECT_EQ(c.balloon.stats_period_s, 5u);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
}

TEST(DomainXmlFixtures, VirtInstallOutputParsesWithWarnings) {
  const GuestConfig c = load_ok(fixture_path("virt_install_debian12.xml"));
  EXPECT_EQ(c.name, "debian12");
  EXPECT_EQ(c.memory_bytes, 2 * kGiB);
  EXPECT_EQ(*c.current_memory_bytes, 2 * kGiB);
  EXPECT_EQ(c.vcpus, 2u);
  EXPECT_EQ(c.kernel, "");
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::pty);
  EXPECT_TRUE(c.rng);
  EXPECT_TRUE(c.balloon.enabled);
  for (const char* path : {"devices/disk", "devices/interface", "devices/controller", "devices/channel",
                           "devices/graphics", "devices/video", "devices/input", "devices/sound", "devices/audio",
                           "devices/redirdev", "devices/emulator", "features", "clock", "cpu", "pm", "on_poweroff",
                           "on_reboot", "on_crash", "os/boot", "os/type@machine",
                           "devices/memballoon/address", "devices/rng/address"}) {
    EXPECT_NE(warning_for(c, path), "") << path;
  }
  EXPECT_EQ(warning_for(c, "devices/disk"), "line 36: devices/disk: tide has no block devices; ignored");
  EXPECT_EQ(warning_for(c, "devices/console"), "");  // the console is the serial port
  EXPECT_EQ(warning_for(c, "metadata"), "");
}

TEST(DomainXmlFixtures, RunningDomainDumpxmlParsesWithWarnings) {
  const GuestConfig c = load_ok(fixture_path("virsh_dumpxml_running.xml"));
  EXPECT_EQ(c.name, "fedora39");
  EXPECT_EQ(c.memory_bytes, 4 * kGiB);
  EXPECT_EQ(*c.current_memory_bytes, 3 * kGiB);
  EXPECT_EQ(*c.memtune.hard_limit, 6 * kGiB);
  EXPECT_EQ(*c.memtune.soft_limit, 4 * kGiB);
  EXPECT_EQ(c.vcpus, 4u);
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::pty);
  EXPECT_EQ(c.console.path, "");  // /dev/pts/4 was the old run's PTY
  EXPECT_TRUE(c.balloon.autodeflate);
  EXPECT_EQ(c.balloon.stats_period_s, 10u);
  for (const char* path : {"seclabel", "cpu", "devices/disk", "devices/interface"}) {
    EXPECT_NE(warning_for(c, path), "") << path;
  }
  // libvirt's default partition: the guest's memory cgroup goes under a group /machine.
  EXPECT_EQ(warning_for(c, "resource"), "");
  EXPECT_EQ(c.partition, "/machine");
  EXPECT_EQ(warning_for(c, "devices/console"), "");
  EXPECT_EQ(warning_for(c, "domain"), "");  // id= is state
}

TEST(DomainXmlFixtures, CloudHypervisorDriverExample) {
  const GuestConfig c = load_ok(fixture_path("cloud_hypervisor_driver.xml"));
  EXPECT_EQ(c.uuid, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  EXPECT_EQ(c.memory_bytes, kGiB);
  EXPECT_EQ(c.kernel, "/var/lib/cloud-hypervisor/hypervisor-fw");
  EXPECT_EQ(c.console.kind, ConsoleConfig::Kind::pty);  // a console alone makes COM1
  EXPECT_FALSE(c.rng);
  EXPECT_EQ(c.warnings.size(), 4u);  // emulator, two disks, the interface
}

TEST(DomainXmlFixtures, NovaNumaGuestIsRejectedByName) {
  const std::string e = error_of(load_domain_xml(fixture_path("openstack_nova_numa.xml")));
  EXPECT_TRUE(contains(e, "line 5: numatune: ")) << e;
  EXPECT_TRUE(contains(e, "cpu/numa: ")) << e;
  EXPECT_FALSE(contains(e, "hugepages")) << e;  // node 0's hugepages are fine
  EXPECT_FALSE(contains(e, "devices/disk")) << e;  // warnings are not errors
}

TEST(DomainXmlFixtures, MemoryHotplugGuestIsRejectedByName) {
  const std::string e = error_of(load_domain_xml(fixture_path("virtio_mem_hotplug.xml")));
  EXPECT_TRUE(contains(e, "line 3: maxMemory: ")) << e;
  EXPECT_TRUE(contains(e, "cpu/numa: ")) << e;
  EXPECT_TRUE(contains(e, "devices/memory: model 'virtio-mem'")) << e;
  EXPECT_TRUE(contains(e, "devices/memory: model 'dimm'")) << e;
}

// parse(format(parse(file))) == parse(file), and the formatted XML validates.
TEST(DomainXmlRoundTrip, ExamplesAndFixtures) {
  for (const std::string& path :
       {source_path("docs/examples/tideguest.xml"), source_path("docs/examples/linux.xml"),
        fixture_path("virt_install_debian12.xml"), fixture_path("virsh_dumpxml_running.xml"),
        fixture_path("cloud_hypervisor_driver.xml")}) {
    const GuestConfig first = without_warnings(load_ok(path));
    const std::string xml = format_domain_xml(first);
    auto again = parse_domain_xml(xml);
    ASSERT_TRUE(again) << path << ": " << again.error().message() << "\n" << xml;
    EXPECT_TRUE(again->warnings.empty()) << path << ": " << again->warnings.front();
    EXPECT_EQ(*again, first) << path << "\n" << xml;
  }
}

TEST(DomainXmlRoundTrip, EveryField) {
  GuestConfig c;
  c.name = "every-field";
  c.uuid = "0e7b5d52-3c1a-4f8e-b2d6-9a4c7e1f0b38";
  c.memory_bytes = 3 * kGiB;
  c.current_memory_bytes = 2 * kGiB + 4096;
  c.vcpus = 8;
  c.current_vcpus = 3;
  c.kernel = "/boot/vmlinuz-6.1";
  c.initrd = "/boot/initrd.img-6.1";
  c.cmdline = "console=ttyS0 tide.run=\"memtouch 64M; exit 0\" x=<&>'";
  c.memtune.hard_limit = 4 * kGiB;
  c.memtune.soft_limit = kUnlimited;
  c.memtune.swap_hard_limit = kUnlimited;
  c.memtune.min_guarantee = 256 * kMiB;
  c.partition = "/tenant/team-a";
  c.memory_control.low = 512 * kMiB;
  c.memory_control.oom_policy = gmm::reclaim::OomPolicy::stop;
  c.memory_control.swappiness = 0;
  c.memory_control.swap_size_bytes = 2 * kGiB;
  c.memory_control.swap_directory = "/var/tmp/tide swap & <more>";
  c.backing.hugepages = true;
  c.backing.hugepage_sizes = {HugepageConfig{kGiB, "0"}};
  c.backing.nosharepages = true;
  c.backing.locked = true;
  c.backing.source_type = "file";
  c.backing.access_mode = "private";
  c.backing.allocation_mode = "immediate";
  c.backing.allocation_threads = 4;
  c.backing.discard = true;
  c.balloon.enabled = true;
  c.balloon.autodeflate = true;
  c.balloon.free_page_reporting = true;
  c.balloon.stats_period_s = 7;
  c.rng = true;
  c.console = ConsoleConfig{ConsoleConfig::Kind::file, "/var/log/tide/every field & more.log"};
  const std::string xml = format_domain_xml(c);
  auto again = parse_domain_xml(xml);
  ASSERT_TRUE(again) << again.error().message() << "\n" << xml;
  EXPECT_EQ(*again, c) << xml;
  EXPECT_TRUE(contains(xml, "<memory unit=\"KiB\">3145728</memory>")) << xml;
  EXPECT_TRUE(contains(xml, "<soft_limit unit=\"KiB\">9007199254740991</soft_limit>")) << xml;
  EXPECT_TRUE(contains(xml, "<partition>/tenant/team-a</partition>")) << xml;
  EXPECT_TRUE(contains(xml, "<tide:memory xmlns:tide=\"https://tide.dev/xmlns/domain/1.0\" oomPolicy=\"stop\"")) << xml;
}

TEST(DomainXmlRoundTrip, DefaultsAndEachConsoleKind) {
  for (ConsoleConfig::Kind kind : {ConsoleConfig::Kind::null, ConsoleConfig::Kind::pty, ConsoleConfig::Kind::stdio}) {
    GuestConfig c;
    c.name = "defaults";
    c.rng = false;
    c.console.kind = kind;
    auto again = parse_domain_xml(format_domain_xml(c));
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(*again, c);
  }
  GuestConfig c;
  c.name = "no-balloon";
  c.balloon.enabled = false;
  auto again = parse_domain_xml(format_domain_xml(c));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, c);
}

TEST(DomainXmlRoundTrip, SizesThatAreNotWholeKiB) {
  GuestConfig c;
  c.name = "odd";
  c.memtune.hard_limit = 1000 * 1000 * 1000;  // not from domain XML: written in bytes
  const std::string xml = format_domain_xml(c);
  EXPECT_TRUE(contains(xml, "<hard_limit unit=\"bytes\">1000000000</hard_limit>")) << xml;
  auto again = parse_domain_xml(xml);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again->memtune.hard_limit, 1000001536u);  // rounded up to a page on the way in
}

TEST(DomainXmlRoundTrip, OutputLooksLikeLibvirts) {
  GuestConfig c;
  c.name = "shape";
  const std::string xml = format_domain_xml(c);
  EXPECT_EQ(xml.rfind("<domain type=\"kvm\">\n  <name>shape</name>\n  <memory unit=\"KiB\">524288</memory>\n", 0), 0u)
      << xml;
  EXPECT_TRUE(contains(xml, "<os>\n    <type arch=\"x86_64\">hvm</type>\n  </os>")) << xml;
  EXPECT_TRUE(contains(xml, "<memballoon model=\"virtio\"/>")) << xml;
  EXPECT_EQ(xml.back(), '\n');
}

}  // namespace
}  // namespace tide::vmm
