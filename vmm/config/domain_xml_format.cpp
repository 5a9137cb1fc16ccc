// format_domain_xml: a GuestConfig as domain XML, in libvirt's element order and with sizes
// in KiB as libvirt writes them. Built with libxml2's tree API, so text and attribute
// values are escaped by the serializer.
#include <libxml/tree.h>

#include <memory>

#include "vmm/config/domain_xml.hpp"
#include "vmm/config/units.hpp"
#include "vmm/config/xml_document.hpp"

namespace tide::vmm {
namespace {

const xmlChar* x(const char* s) { return reinterpret_cast<const xmlChar*>(s); }
const xmlChar* x(const std::string& s) { return x(s.c_str()); }

xmlNode* element(xmlNode* parent, const char* name) { return xmlNewChild(parent, nullptr, x(name), nullptr); }

xmlNode* text_element(xmlNode* parent, const char* name, const std::string& text) {
  return xmlNewTextChild(parent, nullptr, x(name), x(text));  // escapes the text
}

void attribute(xmlNode* node, const char* name, const std::string& value) { xmlNewProp(node, x(name), x(value)); }

// <name unit='KiB'>N</name>: a size as libvirt writes it.
void size_element(xmlNode* parent, const char* name, uint64_t bytes) {
  const ScaledSize s = to_libvirt_size(bytes);
  xmlNode* n = text_element(parent, name, std::to_string(s.value));
  attribute(n, "unit", s.unit);
}

// A <memtune> limit: kUnlimited is written as libvirt's sentinel, which reads back as unlimited.
void limit_element(xmlNode* parent, const char* name, const std::optional<uint64_t>& bytes) {
  if (!bytes) return;
  if (*bytes == kUnlimited) {
    xmlNode* n = text_element(parent, name, std::to_string(kLibvirtUnlimitedKiB));
    attribute(n, "unit", "KiB");
  } else {
    size_element(parent, name, *bytes);
  }
}

void format_memtune(xmlNode* domain, const MemtuneConfig& m) {
  if (!m.hard_limit && !m.soft_limit && !m.swap_hard_limit && !m.min_guarantee) return;
  xmlNode* memtune = element(domain, "memtune");
  limit_element(memtune, "hard_limit", m.hard_limit);
  limit_element(memtune, "soft_limit", m.soft_limit);
  limit_element(memtune, "swap_hard_limit", m.swap_hard_limit);
  limit_element(memtune, "min_guarantee", m.min_guarantee);
}

// tide's own settings as libvirt keeps foreign metadata: one element in tide's namespace.
void format_metadata(xmlNode* domain, const MemoryControlConfig& m) {
  if (m == MemoryControlConfig{}) return;
  xmlNode* metadata = element(domain, "metadata");
  xmlNode* memory = element(metadata, "memory");
  xmlSetNs(memory, xmlNewNs(memory, x(kTideXmlns), x("tide")));
  if (m.oom_policy) attribute(memory, "oomPolicy", gmm::reclaim::oom_policy_name(*m.oom_policy));
  if (m.swappiness) attribute(memory, "swappiness", std::to_string(*m.swappiness));
  if (m.swap_size_bytes) attribute(memory, "swapSize", std::to_string(*m.swap_size_bytes));
  if (!m.swap_directory.empty()) attribute(memory, "swapDirectory", m.swap_directory);
  if (m.low) attribute(memory, "low", *m.low == kUnlimited ? std::string("max") : std::to_string(*m.low));
}

void format_memory_backing(xmlNode* domain, const MemoryBackingConfig& b) {
  if (b == MemoryBackingConfig{}) return;
  xmlNode* backing = element(domain, "memoryBacking");
  if (b.hugepages || !b.hugepage_sizes.empty()) {
    xmlNode* hugepages = element(backing, "hugepages");
    for (const HugepageConfig& h : b.hugepage_sizes) {
      xmlNode* page = element(hugepages, "page");
      const ScaledSize s = to_libvirt_size(h.size_bytes);
      attribute(page, "size", std::to_string(s.value));
      attribute(page, "unit", s.unit);
      if (!h.nodeset.empty()) attribute(page, "nodeset", h.nodeset);
    }
  }
  if (b.nosharepages) element(backing, "nosharepages");
  if (b.locked) element(backing, "locked");
  if (!b.source_type.empty()) attribute(element(backing, "source"), "type", b.source_type);
  if (!b.access_mode.empty()) attribute(element(backing, "access"), "mode", b.access_mode);
  if (!b.allocation_mode.empty() || b.allocation_threads) {
    xmlNode* allocation = element(backing, "allocation");
    if (!b.allocation_mode.empty()) attribute(allocation, "mode", b.allocation_mode);
    if (b.allocation_threads) attribute(allocation, "threads", std::to_string(*b.allocation_threads));
  }
  if (b.discard) element(backing, "discard");
}

void format_os(xmlNode* domain, const GuestConfig& c) {
  xmlNode* os = element(domain, "os");
  xmlNode* type = text_element(os, "type", "hvm");
  attribute(type, "arch", "x86_64");
  if (!c.kernel.empty()) text_element(os, "kernel", c.kernel);
  if (!c.initrd.empty()) text_element(os, "initrd", c.initrd);
  if (!c.cmdline.empty()) text_element(os, "cmdline", c.cmdline);
}

// COM1 as libvirt writes it: the serial port, and a console that refers to it.
void format_console(xmlNode* devices, const ConsoleConfig& console) {
  const char* type = nullptr;
  switch (console.kind) {
    case ConsoleConfig::Kind::pty: type = "pty"; break;
    case ConsoleConfig::Kind::file: type = "file"; break;
    case ConsoleConfig::Kind::stdio: type = "stdio"; break;
    case ConsoleConfig::Kind::null: return;  // no element: no serial output, as parsed
  }
  for (const char* name : {"serial", "console"}) {
    xmlNode* dev = element(devices, name);
    attribute(dev, "type", type);
    if (console.kind == ConsoleConfig::Kind::file) attribute(element(dev, "source"), "path", console.path);
    xmlNode* target = element(dev, "target");
    if (std::string(name) == "console") attribute(target, "type", "serial");
    attribute(target, "port", "0");
  }
}

void format_devices(xmlNode* domain, const GuestConfig& c) {
  xmlNode* devices = element(domain, "devices");
  format_console(devices, c.console);
  if (c.rng) {
    xmlNode* rng = element(devices, "rng");
    attribute(rng, "model", "virtio");
    attribute(text_element(rng, "backend", "/dev/urandom"), "model", "random");
  }
  // Always written: without the element libvirt (and tide) give the guest a virtio balloon.
  const BalloonConfig& b = c.balloon;
  xmlNode* balloon = element(devices, "memballoon");
  attribute(balloon, "model", b.enabled ? "virtio" : "none");
  if (b.autodeflate) attribute(balloon, "autodeflate", "on");
  if (b.free_page_reporting) attribute(balloon, "freePageReporting", "on");
  if (b.stats_period_s > 0) attribute(element(balloon, "stats"), "period", std::to_string(b.stats_period_s));
}

struct FreeDoc {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct FreeBuffer {
  void operator()(xmlBuffer* b) const { xmlBufferFree(b); }
};

}  // namespace

std::string format_domain_xml(const GuestConfig& c) {
  ensure_libxml_initialised();
  std::unique_ptr<xmlDoc, FreeDoc> doc(xmlNewDoc(x("1.0")));
  xmlNode* domain = xmlNewDocNode(doc.get(), nullptr, x("domain"), nullptr);
  xmlDocSetRootElement(doc.get(), domain);
  attribute(domain, "type", "kvm");

  text_element(domain, "name", c.name);
  if (!c.uuid.empty()) text_element(domain, "uuid", c.uuid);
  format_metadata(domain, c.memory_control);
  size_element(domain, "memory", c.memory_bytes);
  if (c.current_memory_bytes) size_element(domain, "currentMemory", *c.current_memory_bytes);
  format_memtune(domain, c.memtune);
  format_memory_backing(domain, c.backing);
  xmlNode* vcpu = text_element(domain, "vcpu", std::to_string(c.vcpus));
  if (c.current_vcpus) attribute(vcpu, "current", std::to_string(*c.current_vcpus));
  if (!c.partition.empty()) text_element(element(domain, "resource"), "partition", c.partition);
  format_os(domain, c);
  format_devices(domain, c);

  std::unique_ptr<xmlBuffer, FreeBuffer> buffer(xmlBufferCreate());
  xmlNodeDump(buffer.get(), doc.get(), domain, 0, 1);
  std::string out(reinterpret_cast<const char*>(xmlBufferContent(buffer.get())),
                  static_cast<size_t>(xmlBufferLength(buffer.get())));
  out += '\n';
  return out;
}

}  // namespace tide::vmm
