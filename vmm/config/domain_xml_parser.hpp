// DomainParser: reads a <domain> element (already well-formed, and schema-valid when the
// caller validated it) into a GuestConfig. It walks every element and attribute, so
// nothing in the document goes unmentioned: implemented ones are read, the rest are named
// in GuestConfig::warnings or recorded as errors (domain_xml_unsupported.hpp). Values are
// checked as libvirt checks them plus tide's own limits; every problem is recorded (not
// just the first) as "line N: <path>: <text>". One parser per document, one thread.
// Internal to vmm/config: the public entry points are in domain_xml.hpp.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "vmm/config/domain_xml_unsupported.hpp"
#include "vmm/config/guest_config.hpp"
#include "vmm/config/xml_document.hpp"

namespace tide::vmm {

class DomainParser {
 public:
  explicit DomainParser(GuestConfig& config) : config_(config) {}

  // Reads `domain` (the root element) into the config; errors() lists what was wrong.
  void parse(const xmlNode* domain);
  [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }

 private:
  // Top level (domain_xml_parser.cpp).
  void parse_name(const xmlNode* node);
  void parse_uuid(const xmlNode* node);
  void parse_vcpu(const xmlNode* node);
  void parse_os(const xmlNode* node);
  void parse_cpu(const xmlNode* node);
  void check_whole_domain(const xmlNode* domain);

  // Memory (domain_xml_memory.cpp).
  void parse_memory(const xmlNode* node);
  void parse_current_memory(const xmlNode* node);
  void parse_memtune(const xmlNode* node);
  void parse_memory_backing(const xmlNode* node);
  void parse_hugepages(const xmlNode* node);
  void check_memory();

  // Memory control beyond <memtune> (domain_xml_memcg.cpp): <resource><partition> and
  // tide's <metadata><tide:memory>.
  void parse_resource(const xmlNode* node);
  void parse_metadata(const xmlNode* node);
  void parse_tide_memory(const xmlNode* node, const std::string& path);

  // Devices (domain_xml_devices.cpp).
  void parse_devices(const xmlNode* node);
  void parse_memballoon(const xmlNode* node);
  void parse_rng(const xmlNode* node);
  void parse_char_device(const xmlNode* node, const std::string& path);
  void resolve_console();

  // Recording. `path` is the element's path below <domain> ("devices/disk"); attributes
  // are "element@attribute".
  void warn(const xmlNode* node, const std::string& path, const std::string& text);
  void fail(const xmlNode* node, const std::string& path, const std::string& text);
  void report(Severity severity, const xmlNode* node, const std::string& path, const std::string& text);
  // An element tide does not implement, judged by unsupported_element(path).
  void unsupported(const xmlNode* node, const std::string& path);
  // Reports every attribute of `node` not in `known`, with `severity`.
  void check_attributes(const xmlNode* node, const std::string& path, std::initializer_list<const char*> known,
                        Severity severity);
  // A size in bytes from `value` with `unit` (default KiB); nullopt after recording an error.
  std::optional<uint64_t> scaled_size(const xmlNode* node, const std::string& path, const std::string& value,
                                      const std::string& unit);
  // A size from the element's text and unit= attribute, rounded up to 4 KiB.
  std::optional<uint64_t> page_rounded_size(const xmlNode* node, const std::string& path);
  // A decimal count in [min, max]; nullopt after recording an error.
  std::optional<uint64_t> count(const xmlNode* node, const std::string& path, const std::string& value, uint64_t min,
                                uint64_t max);
  // "on" -> true, "off" -> false; anything else is an error.
  std::optional<bool> on_off(const xmlNode* node, const std::string& path, const std::string& value);

  // A serial or console element, read; resolve_console() picks COM1's from them.
  struct CharDevice {
    const xmlNode* node = nullptr;
    std::string path;          // "devices/serial" or "devices/console"
    bool usable = false;       // a type tide implements, with what it needs
    ConsoleConfig console;
    std::string target_type;   // "" when absent
    uint64_t port = 0;
  };

  GuestConfig& config_;
  std::vector<std::string> errors_;
  // Lines and values the whole-domain checks need.
  const xmlNode* root_ = nullptr;
  const xmlNode* memory_node_ = nullptr;
  const xmlNode* current_memory_node_ = nullptr;
  const xmlNode* vcpu_node_ = nullptr;
  const xmlNode* memtune_node_ = nullptr;
  const xmlNode* hugepages_node_ = nullptr;
  bool name_seen_ = false;
  bool memory_valid_ = false;
  std::vector<CharDevice> serials_;
  std::vector<CharDevice> consoles_;
  bool tide_memory_seen_ = false;
  bool memballoon_seen_ = false;
  bool rng_seen_ = false;
};

// Child elements of `node`, in document order.
class XmlChildren {
 public:
  explicit XmlChildren(const xmlNode* node) : first_(node != nullptr ? node->children : nullptr) {}
  class Iterator {
   public:
    explicit Iterator(const xmlNode* n) : n_(skip(n)) {}
    const xmlNode* operator*() const { return n_; }
    Iterator& operator++() {
      n_ = skip(n_->next);
      return *this;
    }
    bool operator!=(const Iterator& o) const { return n_ != o.n_; }

   private:
    static const xmlNode* skip(const xmlNode* n) {
      while (n != nullptr && n->type != XML_ELEMENT_NODE) n = n->next;
      return n;
    }
    const xmlNode* n_;
  };
  [[nodiscard]] Iterator begin() const { return Iterator(first_); }
  [[nodiscard]] Iterator end() const { return Iterator(nullptr); }

 private:
  const xmlNode* first_;
};

// "parent/child" (or "child" at the top).
[[nodiscard]] std::string child_path(const std::string& parent, const xmlNode* child);

}  // namespace tide::vmm
