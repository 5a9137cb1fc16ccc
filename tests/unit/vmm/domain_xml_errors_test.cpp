// Unit: what parse_domain_xml says about bad documents — not XML, schema violations with
// their lines, a missing schema — and about elements tide does not implement: a warning
// naming the element, or an error for anything memory-related.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/unit/vmm/domain_xml_test_support.hpp"

namespace tide::vmm {
namespace {

using testing::contains;
using testing::Doc;
using testing::error_of;
using testing::no_schema;
using testing::warning_for;

TEST(DomainXmlErrors, NotXml) {
  for (const char* text : {"", "hello", "{\"name\": \"t\"}", "<domain"}) {
    const std::string e = error_of(parse_domain_xml(text));
    EXPECT_TRUE(contains(e, "domain XML: not well-formed XML: line ")) << e;
  }
  const std::string e = error_of(parse_domain_xml("<domain type='kvm'>\n  <name>t</name>\n  <memory>1</memroy>\n</domain>\n"));
  EXPECT_TRUE(contains(e, "not well-formed XML: line 3: Opening and ending tag mismatch: memory")) << e;
  const auto r = parse_domain_xml("hello");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::invalid_argument);
}

TEST(DomainXmlErrors, NothingIsFetchedOrExpanded) {
  // An external entity is neither fetched (no network) nor read from disk.
  const std::string xml =
      "<!DOCTYPE domain [<!ENTITY secret SYSTEM 'file:///etc/passwd'>"
      "<!ENTITY remote SYSTEM 'http://192.0.2.1/x'>]>\n"
      "<domain type='kvm'><name>t</name><memory unit='MiB'>512</memory>"
      "<os><type>hvm</type><cmdline>&secret;&remote;</cmdline></os></domain>";
  auto r = parse_domain_xml(xml, no_schema());
  if (r) {
    EXPECT_FALSE(contains(r->cmdline, "root:")) << r->cmdline;
  }
}

TEST(DomainXmlErrors, MisspelledElementNamesItsLine) {
  Doc d;
  d.top = "  <currentMemory unit='MiB'>256</currentMemory>\n  <memroy unit='MiB'>512</memroy>";
  const auto r = parse_domain_xml(d.str());
  const std::string e = error_of(r);
  EXPECT_TRUE(contains(e, "domain XML does not match libvirt's schema (/usr/share/libvirt/schemas/domain.rng):\n")) << e;
  EXPECT_TRUE(contains(e, "\nline 5: Element domain has extra content: memroy")) << e;
  EXPECT_EQ(r.error().code, std::errc::invalid_argument);
}

TEST(DomainXmlErrors, BadAttributeValueNamesItsLine) {
  Doc d;
  d.memory = "<memory unit='XiB'>512</memory>";
  const std::string e = error_of(parse_domain_xml(d.str()));
  EXPECT_TRUE(contains(e, "\nline 3: Invalid attribute unit for element memory")) << e;
  // Every violation libxml2 reports, one per line, each with a line number.
  size_t lines = 0;
  for (size_t pos = e.find("\nline "); pos != std::string::npos; pos = e.find("\nline ", pos + 1)) ++lines;
  EXPECT_GE(lines, 2u) << e;
  EXPECT_FALSE(contains(e, "line 0:")) << e;
}

TEST(DomainXmlErrors, BadValueInsideDevices) {
  Doc d;
  d.devices = "    <rng model='virtio'><backend model='random'/></rng>\n    <memballoon model='virtio' autodeflate='maybe'/>";
  const std::string e = error_of(parse_domain_xml(d.str()));
  // libxml2 names the enclosing element that failed, on its line.
  EXPECT_TRUE(contains(e, "line 5: ")) << e;
  EXPECT_TRUE(contains(e, "devices")) << e;
}

TEST(DomainXmlErrors, MissingSchemaIsAClearError) {
  DomainXmlOptions o;
  o.schema_path = "/nonexistent/schemas/domain.rng";
  const auto r = parse_domain_xml(Doc{}.str(), o);
  const std::string e = error_of(r);
  EXPECT_TRUE(contains(e, "cannot validate domain XML: the schema /nonexistent/schemas/domain.rng does not exist")) << e;
  EXPECT_EQ(r.error().code, std::errc::no_such_file_or_directory);
  o.validate = false;
  EXPECT_TRUE(parse_domain_xml(Doc{}.str(), o));
}

TEST(DomainXmlErrors, SchemaThatDoesNotCompile) {
  DomainXmlOptions o;
  o.schema_path = testing::fixture_path("virt_install_debian12.xml");  // XML, but not RelaxNG
  const std::string e = error_of(parse_domain_xml(Doc{}.str(), o));
  EXPECT_TRUE(contains(e, "does not compile")) << e;
}

TEST(DomainXmlErrors, LoadNamesTheFile) {
  const auto r = load_domain_xml("/nonexistent/guest.xml");
  const std::string e = error_of(r);
  EXPECT_TRUE(contains(e, "/nonexistent/guest.xml")) << e;
  EXPECT_EQ(r.error().code, std::errc::no_such_file_or_directory);
  const std::string bad = error_of(load_domain_xml(testing::fixture_path("virtio_mem_hotplug.xml")));
  EXPECT_TRUE(contains(bad, "virtio_mem_hotplug.xml: domain XML has settings tide cannot use")) << bad;
}

TEST(DomainXmlErrors, ConcurrentParsesShareTheSchema) {
  const std::string xml = testing::read_text(testing::fixture_path("virt_install_debian12.xml"));
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (size_t t = 0; t < ok.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) ok[t] += parse_domain_xml(xml).has_value() ? 1 : 0;
    });
  }
  for (std::thread& t : threads) t.join();
  for (int n : ok) EXPECT_EQ(n, 5);
}

// Devices and features tide does not have: named, ignored, the guest still boots.
TEST(DomainXmlUnsupported, DevicesAndFeaturesAreWarningsByName) {
  Doc d;
  d.top = "  <features><acpi/><apic/></features>\n"
          "  <clock offset='utc'/>\n"
          "  <on_poweroff>destroy</on_poweroff>\n"
          "  <cpu mode='host-passthrough'/>";
  d.devices = "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
              "    <disk type='file' device='disk'><source file='/img.qcow2'/><target dev='vda' bus='virtio'/></disk>\n"
              "    <interface type='network'><source network='default'/><model type='virtio'/></interface>\n"
              "    <graphics type='vnc'/>\n"
              "    <video><model type='vga'/></video>\n"
              "    <input type='tablet' bus='usb'/>\n"
              "    <controller type='usb' model='qemu-xhci'/>\n"
              "    <sound model='ich9'/>\n"
              "    <hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>\n"
              "    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n"
              "    <watchdog model='i6300esb'/>";
  const auto r = parse_domain_xml(d.str());
  ASSERT_TRUE(r) << r.error().message();
  const GuestConfig& c = *r;
  EXPECT_EQ(warning_for(c, "devices/disk"), "line 11: devices/disk: tide has no block devices; ignored");
  EXPECT_EQ(warning_for(c, "features"), "line 4: features: tide's machine has a fixed feature set; ignored");
  for (const char* path : {"clock", "on_poweroff", "cpu", "devices/emulator", "devices/interface", "devices/graphics",
                           "devices/video", "devices/input", "devices/controller", "devices/sound", "devices/hostdev",
                           "devices/channel", "devices/watchdog"}) {
    EXPECT_TRUE(contains(warning_for(c, path), "; ignored")) << path;
  }
  EXPECT_EQ(c.warnings.size(), 15u);
  for (const std::string& w : c.warnings) EXPECT_EQ(w.rfind("line ", 0), 0u) << w;
}

// Memory-related settings are never silently ignored.
TEST(DomainXmlUnsupported, MemoryRelatedElementsAreErrors) {
  struct Case {
    const char* top;
    const char* devices;
    const char* expected;
  };
  const Case cases[] = {
      {"  <maxMemory slots='16' unit='GiB'>16</maxMemory>", "", "line 4: maxMemory: tide has no memory hotplug"},
      {"  <numatune><memory mode='strict' nodeset='0'/></numatune>", "", "line 4: numatune: tide's guest is one NUMA node"},
      {"  <cpu><numa><cell id='0' cpus='0' memory='524288' unit='KiB'/></numa></cpu>", "",
       "line 4: cpu/numa: tide's guest is one NUMA node; remove it"},
      {"", "    <memory model='virtio-mem'><target><size unit='GiB'>1</size><node>0</node><block unit='MiB'>2</block></target></memory>",
       "line 6: devices/memory: model 'virtio-mem': tide has no memory devices"},
      {"", "    <memory model='dimm'><target><size unit='GiB'>1</size><node>0</node></target></memory>",
       "devices/memory: model 'dimm':"},
      {"", "    <memory model='nvdimm'><source><path>/tmp/nvdimm</path></source><target><size unit='GiB'>1</size><node>0</node></target></memory>",
       "devices/memory: model 'nvdimm':"},
      {"  <launchSecurity type='sev'><policy>0x0003</policy></launchSecurity>", "",
       "line 4: launchSecurity: tide has no encrypted guest memory"},
  };
  for (const Case& c : cases) {
    Doc d;
    d.top = c.top;
    d.devices = c.devices;
    const std::string e = error_of(parse_domain_xml(d.str()));
    EXPECT_TRUE(contains(e, c.expected)) << e;
    EXPECT_TRUE(contains(e, "; remove it")) << e;
  }
  // <cpu> with a model and a NUMA topology: a warning for the one, an error for the other.
  Doc d;
  d.top = "  <cpu mode='host-model'><numa><cell id='0' cpus='0' memory='524288'/></numa></cpu>";
  const std::string e = error_of(parse_domain_xml(d.str()));
  EXPECT_TRUE(contains(e, "cpu/numa")) << e;
}

TEST(DomainXmlUnsupported, UnknownMemorySettingsAreErrors) {
  // Only reachable without the schema (which knows no such elements), but never ignored.
  Doc d;
  d.top = "  <memoryBacking><hugepages/><prealloc/></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())),
                       "line 4: memoryBacking/prealloc: tide does not know this memoryBacking setting; remove it"));
  d.top = "  <memtune><hard_limit unit='GiB'>1</hard_limit><max_limit>5</max_limit></memtune>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "memtune/max_limit: tide does not know this memtune setting"));
  d.top = "  <memtune><hard_limit unit='GiB' scale='2'>1</hard_limit></memtune>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "memtune/hard_limit@scale:"));
  d.top = "  <memoryBacking><locked/><locked/></memoryBacking>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "memoryBacking/locked: appears more than once"));
  d.top = "  <memtune><soft_limit>1</soft_limit><soft_limit>2</soft_limit></memtune>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "memtune/soft_limit: appears more than once"));
  d.devices = "    <memballoon model='virtio'><stats period='5'/><pages/></memballoon>";
  d.top = "";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str(), no_schema())), "devices/memballoon/pages: tide does not know this memballoon setting"));
  d.devices = "";
  d.memory = "<memory unit='MiB' dumpCore='off'>512</memory>";
  EXPECT_TRUE(contains(error_of(parse_domain_xml(d.str())), "line 3: memory@dumpCore: 'off'"));
}

TEST(DomainXmlUnsupported, ImplementedElementsAreNotWarnings) {
  // memtune, memoryBacking and memballoon are read and kept even where tide does not act
  // on them yet; title, description and metadata describe the domain and need nothing.
  Doc d;
  d.top = "  <title>A test guest</title>\n"
          "  <description>For the unit tests.</description>\n"
          "  <metadata><app:x xmlns:app='http://example.org/app'>1</app:x></metadata>\n"
          "  <currentMemory unit='MiB'>256</currentMemory>\n"
          "  <vcpu current='1'>2</vcpu>\n"
          "  <memtune><hard_limit unit='MiB'>768</hard_limit></memtune>\n"
          "  <memoryBacking><nosharepages/><discard/></memoryBacking>";
  d.devices = "    <serial type='pty'/>\n    <rng model='virtio'><backend model='random'/></rng>\n"
              "    <memballoon model='virtio' autodeflate='on'><stats period='3'/></memballoon>";
  const auto r = parse_domain_xml(d.str());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->warnings.empty()) << r->warnings.front();
}

TEST(DomainXmlUnsupported, OsBootSettingsAreWarnings) {
  Doc d;
  d.os = "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/><bootmenu enable='yes'/></os>";
  const auto r = parse_domain_xml(d.str());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(contains(warning_for(*r, "os@firmware"), "'efi': tide has no firmware"));
  EXPECT_TRUE(contains(warning_for(*r, "os/boot"), "tide boots os/kernel, or tideguest"));
  EXPECT_TRUE(contains(warning_for(*r, "os/bootmenu"), "ignored"));
  EXPECT_TRUE(contains(warning_for(*r, "os/type@machine"), "'q35'"));
}

TEST(DomainXmlUnsupported, ForeignNamespacesAreNamed) {
  std::string xml = Doc{}.str();
  xml.replace(xml.find("<domain type='kvm'>"), 19,
              "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>");
  xml.replace(xml.find("</domain>"), 9, "<qemu:commandline><qemu:arg value='-no-hpet'/></qemu:commandline></domain>");
  const auto r = parse_domain_xml(xml);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(contains(warning_for(*r, "qemu:commandline"), "tide does not implement it; ignored"));
}

}  // namespace
}  // namespace tide::vmm
