// libvirt domain XML as tide's guest configuration format (docs/domain-xml.md is the
// user's reference). Parsing validates against libvirt's RelaxNG schema, reads the
// elements tide implements into a GuestConfig with libvirt's units and meanings, names
// every element tide does not implement (a warning, or an error for anything
// memory-related, which is never silently ignored) and rejects values tide cannot use.
// Formatting writes a GuestConfig back as schema-valid domain XML. All functions are
// thread-safe (the compiled schema is shared under a lock).
#pragma once

#include <string>
#include <string_view>

#include "guestmm/base/error.hpp"
#include "vmm/config/guest_config.hpp"

namespace tide::vmm {

// The namespace of tide's own settings inside <metadata> (libvirt keeps elements of foreign
// namespaces there verbatim): <tide:memory xmlns:tide="https://tide.dev/xmlns/domain/1.0"
// oomPolicy=... swappiness=... swapSize=... swapDirectory=... low=.../> (docs/memcg.md).
inline constexpr const char* kTideXmlns = "https://tide.dev/xmlns/domain/1.0";

struct DomainXmlOptions {
  bool validate = true;  // check the document against the schema before reading it
  std::string schema_path = "/usr/share/libvirt/schemas/domain.rng";
};

// Parses and validates a domain XML document. Sizes come out in bytes, rounded up to 4 KiB
// (docs/domain-xml.md, "Units and rounding"); elements tide does not implement and that
// change nothing memory-related are listed in GuestConfig::warnings, one per element.
// Errors (invalid_argument unless noted), all of them in one message, one per line:
//   not well-formed XML ("not well-formed XML: line 3: ...");
//   schema violations ("line 12: Element memory failed to validate attributes", ...);
//   the schema file missing while options.validate is set (no_such_file_or_directory);
//   values tide cannot use and unsupported memory-related elements, each as
//   "line N: <element path>: <what is wrong>".
[[nodiscard]] Result<GuestConfig> parse_domain_xml(std::string_view xml, const DomainXmlOptions& options = {});

// parse_domain_xml on the contents of `path`; errors are prefixed with the path.
[[nodiscard]] Result<GuestConfig> load_domain_xml(const std::string& path, const DomainXmlOptions& options = {});

// `config` as domain XML (type='kvm'; sizes in KiB as libvirt writes them) that validates
// against the schema; parse_domain_xml of the result gives `config` back, warnings aside.
// `config.name` must be non-empty for the result to validate.
[[nodiscard]] std::string format_domain_xml(const GuestConfig& config);

}  // namespace tide::vmm
