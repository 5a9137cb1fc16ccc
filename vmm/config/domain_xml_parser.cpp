// DomainParser's walk of <domain>, its recording helpers and the top-level elements that
// are not memory or devices: name, uuid, vcpu, os, cpu.
#include "vmm/config/domain_xml_parser.hpp"

#include <cctype>
#include <set>

#include "vmm/config/units.hpp"

namespace tide::vmm {
namespace {

// tide's vCPU limit (the `tide run --vcpus` range).
constexpr uint64_t kMaxVcpus = 254;
// The boot protocol's command-line area (docs/machine.md), including its NUL.
constexpr size_t kMaxCmdlineBytes = 0x10000 - 1;

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// libvirt's two UUID spellings (32 hex digits, or 8-4-4-4-12) in canonical lower case.
std::optional<std::string> canonical_uuid(const std::string& text) {
  std::string hex;
  if (text.size() == 32) {
    hex = text;
  } else if (text.size() == 36) {
    for (size_t i = 0; i < text.size(); ++i) {
      const bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash_here != (text[i] == '-')) return std::nullopt;
      if (!dash_here) hex += text[i];
    }
  } else {
    return std::nullopt;
  }
  for (char& c : hex) {
    if (!is_hex(c)) return std::nullopt;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

// Elements that may appear once in a domain (the schema says so; without validation, a
// second one is an error rather than a silent choice).
bool single_element(const std::string& name) {
  static const std::set<std::string> kSingle{"name", "uuid", "memory", "currentMemory", "vcpu", "os",
                                             "memtune", "memoryBacking", "devices", "cpu",
                                             "resource", "metadata"};
  return kSingle.count(name) > 0;
}

}  // namespace

std::string child_path(const std::string& parent, const xmlNode* child) {
  return parent.empty() ? xml_name(child) : parent + "/" + xml_name(child);
}

void DomainParser::report(Severity severity, const xmlNode* node, const std::string& path, const std::string& text) {
  std::string line = "line " + std::to_string(xml_line(node)) + ": " + path + ": " + text;
  if (severity == Severity::error) {
    errors_.push_back(std::move(line));
  } else {
    config_.warnings.push_back(std::move(line));
  }
}

void DomainParser::warn(const xmlNode* node, const std::string& path, const std::string& text) {
  report(Severity::warning, node, path, text);
}

void DomainParser::fail(const xmlNode* node, const std::string& path, const std::string& text) {
  report(Severity::error, node, path, text);
}

void DomainParser::unsupported(const xmlNode* node, const std::string& path) {
  UnsupportedElement u = unsupported_element(path);
  std::string what = u.reason;
  // Name the kind of device where libvirt has several (memory model='virtio-mem', ...).
  if (auto model = xml_attribute(node, "model")) what = "model '" + *model + "': " + what;
  report(u.severity, node, path, what + (u.severity == Severity::error ? "; remove it" : "; ignored"));
}

void DomainParser::check_attributes(const xmlNode* node, const std::string& path,
                                    std::initializer_list<const char*> known, Severity severity) {
  for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
    const std::string name = reinterpret_cast<const char*>(a->name);
    bool is_known = false;
    for (const char* k : known) is_known = is_known || name == k;
    if (is_known) continue;
    report(severity, node, path + "@" + name,
           severity == Severity::error ? "tide does not know this attribute; remove it"
                                       : "tide does not implement this attribute; ignored");
  }
}

std::optional<uint64_t> DomainParser::scaled_size(const xmlNode* node, const std::string& path,
                                                  const std::string& value, const std::string& unit) {
  auto bytes = parse_scaled_size(value, unit);
  if (!bytes) {
    fail(node, path, bytes.error().context);
    return std::nullopt;
  }
  return *bytes;
}

std::optional<uint64_t> DomainParser::page_rounded_size(const xmlNode* node, const std::string& path) {
  auto bytes = scaled_size(node, path, xml_text(node), xml_attribute(node, "unit").value_or(""));
  if (!bytes) return std::nullopt;
  auto rounded = round_up_to(*bytes, kGuestPageBytes);
  if (!rounded) {
    fail(node, path, rounded.error().context);
    return std::nullopt;
  }
  return *rounded;
}

std::optional<uint64_t> DomainParser::count(const xmlNode* node, const std::string& path, const std::string& value,
                                            uint64_t min, uint64_t max) {
  auto n = parse_decimal_u64(value);
  if (!n) {
    fail(node, path, n.error().context);
    return std::nullopt;
  }
  if (*n < min || *n > max) {
    fail(node, path,
         std::to_string(*n) + " is out of range (" + std::to_string(min) + " to " + std::to_string(max) + ")");
    return std::nullopt;
  }
  return *n;
}

std::optional<bool> DomainParser::on_off(const xmlNode* node, const std::string& path, const std::string& value) {
  if (value == "on") return true;
  if (value == "off") return false;
  fail(node, path, "'" + value + "' is not on or off");
  return std::nullopt;
}

void DomainParser::parse(const xmlNode* domain) {
  root_ = domain;
  config_.rng = false;  // libvirt: no <rng> element, no entropy device
  if (xml_name(domain) != "domain") {
    fail(domain, xml_name(domain), "the root element is <" + xml_name(domain) + ">, not <domain>");
    return;
  }
  // type= is the hypervisor libvirt would use; id= is a running domain's number (state,
  // not configuration).
  check_attributes(domain, "domain", {"type", "id"}, Severity::warning);
  const std::string type = xml_attribute(domain, "type").value_or("");
  if (type != "kvm") warn(domain, "domain@type", "'" + type + "': tide always runs the guest with KVM; ignored");

  std::set<std::string> seen;
  for (const xmlNode* child : XmlChildren(domain)) {
    const std::string name = xml_name(child);
    if (single_element(name) && !seen.insert(name).second) {
      fail(child, name, "appears more than once");
      continue;
    }
    if (name == "name") {
      parse_name(child);
    } else if (name == "uuid") {
      parse_uuid(child);
    } else if (name == "memory") {
      parse_memory(child);
    } else if (name == "currentMemory") {
      parse_current_memory(child);
    } else if (name == "vcpu") {
      parse_vcpu(child);
    } else if (name == "os") {
      parse_os(child);
    } else if (name == "memtune") {
      parse_memtune(child);
    } else if (name == "memoryBacking") {
      parse_memory_backing(child);
    } else if (name == "devices") {
      parse_devices(child);
    } else if (name == "cpu") {
      parse_cpu(child);
    } else if (name == "resource") {
      parse_resource(child);
    } else if (name == "metadata") {
      parse_metadata(child);
    } else if (name == "title" || name == "description") {
      // Descriptions for people and applications: nothing to implement.
    } else {
      unsupported(child, name);
    }
  }
  check_whole_domain(domain);
}

void DomainParser::parse_name(const xmlNode* node) {
  name_seen_ = true;
  check_attributes(node, "name", {}, Severity::warning);
  const std::string name = xml_text(node);
  if (name.empty()) {
    fail(node, "name", "the name is empty");
  } else if (name.find('/') != std::string::npos || name.find('\n') != std::string::npos) {
    fail(node, "name", "'" + name + "' contains '/' or a newline, which a domain name may not");
  } else {
    config_.name = name;
  }
}

void DomainParser::parse_uuid(const xmlNode* node) {
  check_attributes(node, "uuid", {}, Severity::warning);
  const std::string text = xml_text(node);
  if (auto uuid = canonical_uuid(text)) {
    config_.uuid = *uuid;
  } else {
    fail(node, "uuid", "'" + text + "' is not a UUID (32 hex digits, or 8-4-4-4-12)");
  }
}

void DomainParser::parse_vcpu(const xmlNode* node) {
  vcpu_node_ = node;
  check_attributes(node, "vcpu", {"current", "placement", "cpuset"}, Severity::warning);
  // placement='static' (what libvirt writes by default) asks for nothing without a cpuset.
  if (auto placement = xml_attribute(node, "placement"); placement && *placement != "static") {
    warn(node, "vcpu@placement", "'" + *placement + "': tide does not place vCPUs on host CPUs; ignored");
  }
  if (auto cpuset = xml_attribute(node, "cpuset")) {
    warn(node, "vcpu@cpuset", "'" + *cpuset + "': tide does not pin vCPUs to host CPUs; ignored");
  }
  if (auto n = count(node, "vcpu", xml_text(node), 1, kMaxVcpus)) config_.vcpus = static_cast<uint32_t>(*n);
  if (auto current = xml_attribute(node, "current")) {
    if (auto n = count(node, "vcpu@current", *current, 1, kMaxVcpus)) config_.current_vcpus = static_cast<uint32_t>(*n);
  }
}

void DomainParser::parse_os(const xmlNode* node) {
  check_attributes(node, "os", {"firmware"}, Severity::warning);
  if (auto firmware = xml_attribute(node, "firmware")) {
    warn(node, "os@firmware",
         "'" + *firmware + "': tide has no firmware: it boots os/kernel, or tideguest when there is none; ignored");
  }
  bool type_seen = false;
  for (const xmlNode* child : XmlChildren(node)) {
    const std::string name = xml_name(child);
    const std::string path = child_path("os", child);
    if (name == "type") {
      type_seen = true;
      check_attributes(child, path, {"arch", "machine"}, Severity::warning);
      const std::string type = xml_text(child);
      if (type != "hvm") fail(child, path, "'" + type + "': tide runs hardware-virtualized (hvm) guests only");
      const std::string arch = xml_attribute(child, "arch").value_or("x86_64");
      if (arch == "i686") {
        warn(child, path + "@arch", "'i686': tide's vCPUs are x86_64 (a 32-bit kernel still boots); ignored");
      } else if (arch != "x86_64") {
        fail(child, path + "@arch", "'" + arch + "': tide runs x86_64 guests only");
      }
      if (auto machine = xml_attribute(child, "machine")) {
        warn(child, path + "@machine", "'" + *machine + "': tide has one machine type of its own; ignored");
      }
    } else if (name == "kernel" || name == "initrd" || name == "cmdline") {
      check_attributes(child, path, {}, Severity::warning);
      std::string text = xml_text(child);
      if (name == "kernel") {
        config_.kernel = std::move(text);
      } else if (name == "initrd") {
        config_.initrd = std::move(text);
      } else if (text.size() > kMaxCmdlineBytes) {
        fail(child, path, std::to_string(text.size()) + " bytes is longer than tide's limit of " +
                              std::to_string(kMaxCmdlineBytes));
      } else {
        config_.cmdline = std::move(text);
      }
    } else {
      unsupported(child, path);
    }
  }
  if (!type_seen) fail(node, "os", "os/type is missing (write <type arch='x86_64'>hvm</type>)");
}

void DomainParser::parse_cpu(const xmlNode* node) {
  // The NUMA topology is the one part of <cpu> that changes the guest's memory.
  bool other = node->properties != nullptr;
  for (const xmlNode* child : XmlChildren(node)) {
    if (xml_name(child) == "numa") {
      unsupported(child, "cpu/numa");
    } else {
      other = true;
    }
  }
  if (other) unsupported(node, "cpu");
}

void DomainParser::check_whole_domain(const xmlNode* domain) {
  if (!name_seen_) fail(domain, "name", "the domain has no <name>");
  if (config_.current_vcpus && *config_.current_vcpus > config_.vcpus) {
    fail(vcpu_node_, "vcpu@current",
         std::to_string(*config_.current_vcpus) + " is more than the " + std::to_string(config_.vcpus) + " vCPUs");
  }
  check_memory();
  resolve_console();
}

}  // namespace tide::vmm
