// XmlDocument: an XML document parsed with libxml2 that never fetches anything (no network,
// no external DTD, no entity substitution) and keeps every element's line number. It owns
// the xmlDoc (move-only). Helpers read element names, attributes and text from its nodes.
// Parsing is thread-safe (each parse has its own libxml2 context; libxml2 is initialised
// once, on first use).
#pragma once

#include <libxml/tree.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "guestmm/base/error.hpp"

namespace tide::vmm {

// libxml2's own initialisation, once per process; every entry point that uses libxml2
// calls it first. Thread-safe.
void ensure_libxml_initialised();

class XmlDocument {
 public:
  // Largest document accepted: far above any domain XML (libvirt caps its files at 10 MiB).
  static constexpr size_t kMaxBytes = 16u << 20;

  // Error: not well-formed XML, as "line N: <libxml2's message>" (the first error), or
  // larger than kMaxBytes.
  [[nodiscard]] static Result<XmlDocument> parse(std::string_view xml);

  [[nodiscard]] xmlDoc* get() const { return doc_.get(); }
  // The root element; never null for a parsed document.
  [[nodiscard]] xmlNode* root() const { return xmlDocGetRootElement(doc_.get()); }

 private:
  struct Free {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
  };
  explicit XmlDocument(xmlDoc* doc) : doc_(doc) {}
  std::unique_ptr<xmlDoc, Free> doc_;
};

// The line `node` starts on (1-based), 0 if unknown.
[[nodiscard]] long xml_line(const xmlNode* node);
// The element's name with its namespace prefix, if any ("disk", "qemu:commandline").
[[nodiscard]] std::string xml_name(const xmlNode* node);
// The value of attribute `name` (no namespace), or nullopt when absent.
[[nodiscard]] std::optional<std::string> xml_attribute(const xmlNode* node, const char* name);
// The element's text content (its text and CDATA descendants, concatenated).
[[nodiscard]] std::string xml_text(const xmlNode* node);

}  // namespace tide::vmm
