// DomainParser's memory-control elements beyond <memtune>: <resource><partition> (the
// memory cgroup group the guest's leaf goes under) and tide's own <tide:memory> inside
// <metadata> (OOM policy, swappiness, swap file, memory.low). Both change how the guest's
// memory is controlled, so anything tide cannot use in them is an error, never a warning.
// Other applications' metadata (any other namespace) is theirs: tide passes over it.
#include <cctype>
#include <string_view>

#include "guestmm/memcg/memcg_limits.hpp"
#include "vmm/config/domain_xml.hpp"
#include "vmm/config/domain_xml_parser.hpp"
#include "vmm/machine/machine_memcg.hpp"

namespace tide::vmm {
namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t first = 0;
  while (first < text.size() && std::isspace(static_cast<unsigned char>(text[first]))) ++first;
  return text.substr(first);
}

bool in_tide_namespace(const xmlNode* node) {
  return node->ns != nullptr && node->ns->href != nullptr &&
         std::string_view(reinterpret_cast<const char*>(node->ns->href)) == kTideXmlns;
}

}  // namespace

void DomainParser::parse_resource(const xmlNode* node) {
  check_attributes(node, "resource", {}, Severity::warning);
  bool partition_seen = false;
  for (const xmlNode* child : XmlChildren(node)) {
    const std::string path = child_path("resource", child);
    if (xml_name(child) != "partition") {
      unsupported(child, path);
      continue;
    }
    if (partition_seen) {
      fail(child, path, "appears more than once");
      continue;
    }
    partition_seen = true;
    check_attributes(child, path, {}, Severity::error);
    for (const xmlNode* grandchild : XmlChildren(child)) unsupported(grandchild, child_path(path, grandchild));
    const std::string partition = trimmed(xml_text(child));
    if (Status st = check_memcg_group_path(partition); !st) {
      fail(child, path, st.error().message());
      continue;
    }
    config_.partition = partition == "/" ? "" : partition;
  }
}

void DomainParser::parse_metadata(const xmlNode* node) {
  for (const xmlNode* child : XmlChildren(node)) {
    if (!in_tide_namespace(child)) continue;  // another application's
    const std::string path = child_path("metadata", child);
    const std::string local = reinterpret_cast<const char*>(child->name);
    if (local != "memory") {
      fail(child, path, "tide's namespace has no element '" + local + "' (only memory); remove it");
      continue;
    }
    if (tide_memory_seen_) {
      fail(child, path, "appears more than once");
      continue;
    }
    tide_memory_seen_ = true;
    parse_tide_memory(child, path);
  }
}

void DomainParser::parse_tide_memory(const xmlNode* node, const std::string& path) {
  check_attributes(node, path, {"oomPolicy", "swappiness", "swapSize", "swapDirectory", "low"}, Severity::error);
  bool children = false;
  for (const xmlNode* child : XmlChildren(node)) {
    children = true;
    fail(child, child_path(path, child), "tide:memory takes attributes only; remove it");
  }
  if (!children && !trimmed(xml_text(node)).empty()) fail(node, path, "tide:memory takes attributes only, no text");
  MemoryControlConfig& m = config_.memory_control;
  if (auto policy = xml_attribute(node, "oomPolicy")) {
    auto p = gmm::reclaim::parse_oom_policy(*policy);
    if (p) {
      m.oom_policy = *p;
    } else {
      fail(node, path + "@oomPolicy", p.error().message());
    }
  }
  if (auto swappiness = xml_attribute(node, "swappiness")) {
    if (auto n = count(node, path + "@swappiness", *swappiness, 0, gmm::aging::kMaxSwappiness)) {
      m.swappiness = static_cast<unsigned>(*n);
    }
  }
  if (auto size = xml_attribute(node, "swapSize")) {
    auto pages = gmm::memcg::parse_limit(*size);
    if (!pages) {
      fail(node, path + "@swapSize", pages.error().message());
    } else if (*pages == gmm::memcg::kUnlimited) {
      fail(node, path + "@swapSize", "'max': give the swap file's size (0 or no swapSize: the guest's memory size)");
    } else {
      m.swap_size_bytes = *pages << gmm::kPageShift;
    }
  }
  if (auto dir = xml_attribute(node, "swapDirectory")) {
    if (dir->empty() || dir->front() != '/') {
      fail(node, path + "@swapDirectory", "'" + *dir + "' is not an absolute directory");
    } else {
      m.swap_directory = *dir;
    }
  }
  if (auto low = xml_attribute(node, "low")) {
    auto pages = gmm::memcg::parse_limit(*low);
    if (pages) {
      m.low = *pages == gmm::memcg::kUnlimited ? kUnlimited : *pages << gmm::kPageShift;
    } else {
      fail(node, path + "@low", pages.error().message());
    }
  }
}

}  // namespace tide::vmm
