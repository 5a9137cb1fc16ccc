// What tide says about a domain XML element it does not implement: a warning (the element
// is ignored and the guest still gets what the rest of the document describes) or an error
// (ignoring it would silently change the guest's memory, so the user must remove it).
// The rule (docs/domain-xml.md): memory-related settings are never silently ignored.
// Pure lookup, any thread.
#pragma once

#include <string>
#include <string_view>

namespace tide::vmm {

enum class Severity { warning, error };

struct UnsupportedElement {
  Severity severity = Severity::warning;
  std::string reason;  // "tide has no block devices"; the caller adds "; ignored" or "; remove it"
};

// `path` is the element's path below <domain>, e.g. "devices/disk", "cpu/numa",
// "memoryBacking/foo"; unknown paths get a generic warning.
[[nodiscard]] UnsupportedElement unsupported_element(std::string_view path);

}  // namespace tide::vmm
