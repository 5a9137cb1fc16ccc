// DomainParser's memory elements: <memory>, <currentMemory>, <memtune>, <memoryBacking>,
// and the checks that relate them. Everything here is memory-related, so anything tide
// does not know below <memtune> or <memoryBacking> is an error, never a warning.
#include <cctype>
#include <iterator>
#include <set>

#include "vmm/config/domain_xml_parser.hpp"
#include "vmm/config/units.hpp"
#include "vmm/machine/layout.hpp"

namespace tide::vmm {
namespace {

// Which of tide's NUMA nodes (it has one: node 0) a libvirt node set names.
struct NodeSetSummary {
  bool node0 = false;
  bool others = false;
};

// Parses libvirt's node/CPU set syntax ("0", "0-3", "0-3,^2"); nullopt if malformed.
std::optional<NodeSetSummary> summarize_nodeset(const std::string& text) {
  struct Range {
    uint64_t first;
    uint64_t last;
  };
  std::vector<Range> ranges;
  std::set<uint64_t> excluded;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) return std::nullopt;
    const bool exclude = item[0] == '^';
    if (exclude) item.erase(0, 1);
    const size_t dash = item.find('-');
    auto first = parse_decimal_u64(item.substr(0, dash));
    if (!first || item.find_first_of(" \t\r\n") != std::string::npos) return std::nullopt;
    uint64_t last = *first;
    if (dash != std::string::npos) {
      if (exclude) return std::nullopt;
      auto l = parse_decimal_u64(item.substr(dash + 1));
      if (!l || *l < *first) return std::nullopt;
      last = *l;
    }
    if (exclude) {
      excluded.insert(*first);
    } else {
      ranges.push_back(Range{*first, last});
    }
  }
  NodeSetSummary s;
  for (const Range& r : ranges) {
    if (r.first == 0 && excluded.count(0) == 0) s.node0 = true;
    const uint64_t lo = r.first == 0 ? 1 : r.first;
    if (lo > r.last) continue;
    const auto excluded_here =
        static_cast<uint64_t>(std::distance(excluded.lower_bound(lo), excluded.upper_bound(r.last)));
    if (r.last - lo + 1 > excluded_here) s.others = true;
  }
  return s;
}

bool x86_page_size(uint64_t bytes) { return bytes == kGuestPageBytes || bytes == (2u << 20) || bytes == (1u << 30); }

}  // namespace

void DomainParser::parse_memory(const xmlNode* node) {
  memory_node_ = node;
  check_attributes(node, "memory", {"unit", "dumpCore"}, Severity::error);
  if (auto dump = xml_attribute(node, "dumpCore")) {
    fail(node, "memory@dumpCore",
         "'" + *dump + "': tide does not choose whether guest memory is in its core dumps; remove it");
  }
  if (auto bytes = page_rounded_size(node, "memory")) {
    config_.memory_bytes = *bytes;
    memory_valid_ = true;
  }
}

void DomainParser::parse_current_memory(const xmlNode* node) {
  current_memory_node_ = node;
  check_attributes(node, "currentMemory", {"unit"}, Severity::error);
  if (auto bytes = page_rounded_size(node, "currentMemory")) {
    // As libvirt: 0 means "all of <memory>".
    config_.current_memory_bytes = *bytes == 0 ? std::nullopt : std::optional<uint64_t>(*bytes);
  }
}

void DomainParser::parse_memtune(const xmlNode* node) {
  memtune_node_ = node;
  check_attributes(node, "memtune", {}, Severity::error);
  MemtuneConfig& m = config_.memtune;
  for (const xmlNode* child : XmlChildren(node)) {
    const std::string name = xml_name(child);
    const std::string path = child_path("memtune", child);
    std::optional<uint64_t>* field = name == "hard_limit"        ? &m.hard_limit
                                     : name == "soft_limit"      ? &m.soft_limit
                                     : name == "swap_hard_limit" ? &m.swap_hard_limit
                                     : name == "min_guarantee"   ? &m.min_guarantee
                                                                 : nullptr;
    if (field == nullptr) {
      unsupported(child, path);
      continue;
    }
    if (field->has_value()) {
      fail(child, path, "appears more than once");
      continue;
    }
    check_attributes(child, path, {"unit"}, Severity::error);
    for (const xmlNode* grandchild : XmlChildren(child)) unsupported(grandchild, child_path(path, grandchild));
    std::string text = xml_text(child);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
    if (text == "-1") {  // `virsh memtune`'s spelling of "unlimited"
      *field = kUnlimited;
      continue;
    }
    auto bytes = scaled_size(child, path, text, xml_attribute(child, "unit").value_or(""));
    if (!bytes) continue;
    // libvirt keeps KiB, rounded up; at or above its sentinel the limit is "unlimited".
    const uint64_t kib = *bytes / kKiB + (*bytes % kKiB != 0 ? 1 : 0);
    if (kib >= kLibvirtUnlimitedKiB) {
      *field = kUnlimited;
      continue;
    }
    // Below the sentinel the rounding cannot overflow; it may reach the sentinel, which
    // libvirt would read back as unlimited, so tide does too.
    auto rounded = round_up_to(*bytes, kGuestPageBytes);
    if (rounded) *field = *rounded / kKiB >= kLibvirtUnlimitedKiB ? kUnlimited : *rounded;
  }
}

void DomainParser::parse_memory_backing(const xmlNode* node) {
  check_attributes(node, "memoryBacking", {}, Severity::error);
  MemoryBackingConfig& b = config_.backing;
  std::set<std::string> seen;
  for (const xmlNode* child : XmlChildren(node)) {
    const std::string name = xml_name(child);
    const std::string path = child_path("memoryBacking", child);
    static const std::set<std::string> kKnown{"hugepages", "nosharepages", "locked", "source",
                                              "access", "allocation", "discard"};
    if (kKnown.count(name) == 0) {
      unsupported(child, path);
      continue;
    }
    if (!seen.insert(name).second) {
      fail(child, path, "appears more than once");
      continue;
    }
    if (name == "hugepages") {
      parse_hugepages(child);
      continue;
    }
    for (const xmlNode* grandchild : XmlChildren(child)) unsupported(grandchild, child_path(path, grandchild));
    if (name == "nosharepages" || name == "locked" || name == "discard") {
      check_attributes(child, path, {}, Severity::error);
      (name == "nosharepages" ? b.nosharepages : name == "locked" ? b.locked : b.discard) = true;
    } else if (name == "source") {
      check_attributes(child, path, {"type"}, Severity::error);
      const std::string type = xml_attribute(child, "type").value_or("");
      if (type == "file" || type == "anonymous" || type == "memfd") {
        b.source_type = type;
      } else {
        fail(child, path + "@type", "'" + type + "' is not file, anonymous or memfd");
      }
    } else if (name == "access") {
      check_attributes(child, path, {"mode"}, Severity::error);
      const std::string mode = xml_attribute(child, "mode").value_or("");
      if (mode == "shared" || mode == "private") {
        b.access_mode = mode;
      } else {
        fail(child, path + "@mode", "'" + mode + "' is not shared or private");
      }
    } else if (name == "allocation") {
      check_attributes(child, path, {"mode", "threads"}, Severity::error);
      if (auto mode = xml_attribute(child, "mode")) {
        if (*mode == "immediate" || *mode == "ondemand") {
          b.allocation_mode = *mode;
        } else {
          fail(child, path + "@mode", "'" + *mode + "' is not immediate or ondemand");
        }
      }
      if (auto threads = xml_attribute(child, "threads")) {
        // As libvirt: 0 means "not set".
        if (auto n = count(child, path + "@threads", *threads, 0, UINT32_MAX); n && *n > 0) {
          b.allocation_threads = static_cast<uint32_t>(*n);
        }
      }
    }
  }
}

void DomainParser::parse_hugepages(const xmlNode* node) {
  hugepages_node_ = node;
  check_attributes(node, "memoryBacking/hugepages", {}, Severity::error);
  MemoryBackingConfig& b = config_.backing;
  b.hugepages = true;
  for (const xmlNode* page : XmlChildren(node)) {
    const std::string path = child_path("memoryBacking/hugepages", page);
    if (xml_name(page) != "page") {
      unsupported(page, path);
      continue;
    }
    check_attributes(page, path, {"size", "unit", "nodeset"}, Severity::error);
    for (const xmlNode* grandchild : XmlChildren(page)) unsupported(grandchild, child_path(path, grandchild));
    HugepageConfig h;
    auto size = xml_attribute(page, "size");
    if (!size) {
      fail(page, path + "@size", "the page size is missing");
      continue;
    }
    auto bytes = scaled_size(page, path + "@size", *size, xml_attribute(page, "unit").value_or(""));
    if (!bytes) continue;
    if (!x86_page_size(*bytes)) {
      fail(page, path + "@size", describe_size(*bytes) + " is not an x86-64 page size (4 KiB, 2 MiB or 1 GiB)");
      continue;
    }
    h.size_bytes = *bytes;
    if (auto nodeset = xml_attribute(page, "nodeset")) {
      auto nodes = summarize_nodeset(*nodeset);
      if (!nodes) {
        fail(page, path + "@nodeset", "'" + *nodeset + "' is not a node set (e.g. 0, 0-3, 0-3,^2)");
        continue;
      }
      if (nodes->others || !nodes->node0) {
        // libvirt: "hugepages: node N not found" for a guest without NUMA nodes.
        fail(page, path + "@nodeset", "'" + *nodeset + "': tide's guest has one NUMA node, node 0; remove the others");
        continue;
      }
      h.nodeset = *nodeset;
    }
    b.hugepage_sizes.push_back(std::move(h));
  }
}

void DomainParser::check_memory() {
  const xmlNode* at = memory_node_ != nullptr ? memory_node_ : root_;
  if (memory_node_ == nullptr) {
    fail(at, "memory", "the domain has no <memory> (write e.g. <memory unit='MiB'>512</memory>)");
  } else if (memory_valid_ &&
             (config_.memory_bytes < layout::kMinMemory || config_.memory_bytes > layout::kMaxMemory)) {
    fail(at, "memory", describe_size(config_.memory_bytes) + " is outside tide's range (" +
                           describe_size(layout::kMinMemory) + " to " + describe_size(layout::kMaxMemory) + ")");
  }
  if (memory_valid_ && config_.current_memory_bytes && *config_.current_memory_bytes > config_.memory_bytes) {
    fail(current_memory_node_, "currentMemory",
         describe_size(*config_.current_memory_bytes) + " is more than <memory> (" +
             describe_size(config_.memory_bytes) + "); the balloon target cannot exceed the boot maximum");
  }

  const MemtuneConfig& m = config_.memtune;
  if (m.hard_limit && m.swap_hard_limit && *m.hard_limit != kUnlimited && *m.hard_limit > *m.swap_hard_limit) {
    fail(memtune_node_, "memtune/swap_hard_limit",
         describe_size(*m.swap_hard_limit) + " is less than hard_limit (" + describe_size(*m.hard_limit) +
             "); swap_hard_limit counts memory plus swap, so it must be at least hard_limit");
  }

  const MemoryBackingConfig& b = config_.backing;
  if (!b.hugepages) return;
  if (b.source_type == "anonymous") {
    fail(hugepages_node_, "memoryBacking/hugepages",
         "hugepages cannot come from an anonymous memory source (source type='anonymous')");
  }
  if (b.allocation_mode == "ondemand") {
    fail(hugepages_node_, "memoryBacking/hugepages",
         "hugepages cannot be allocated on demand (allocation mode='ondemand')");
  }
  // Every <page> applies to node 0 (the parser rejected the others): only one may.
  if (b.hugepage_sizes.size() > 1) {
    fail(hugepages_node_, "memoryBacking/hugepages",
         "more than one page size for node 0, tide's only NUMA node; keep one <page>");
  } else if (b.hugepage_sizes.size() == 1 && memory_valid_) {
    const uint64_t page = b.hugepage_sizes[0].size_bytes;
    if (config_.memory_bytes % page != 0) {
      fail(at, "memory", describe_size(config_.memory_bytes) + " is not a whole number of " + describe_size(page) +
                             " hugepages");
    }
  }
}

}  // namespace tide::vmm
