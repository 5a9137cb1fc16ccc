// Validation of an XmlDocument against a RelaxNG schema file with libxml2 (libvirt's
// domain.rng and the .rng files it includes from the same folder). A compiled schema is
// cached per path for the life of the process (compiling domain.rng takes about 0.1 s,
// validating a document a few ms). Locking: one mutex guards the cache and also serializes
// validations, since libxml2 does not document a compiled RelaxNG schema as safe to share
// between concurrent validations. Any thread may call it.
#pragma once

#include <string>

#include "guestmm/base/error.hpp"
#include "vmm/config/xml_document.hpp"

namespace tide::vmm {

// The most violations listed in one error; the rest are counted ("... and 12 more").
inline constexpr size_t kMaxReportedViolations = 50;

// Ok, or an error whose context lists every violation as "line N: <libxml2's message>",
// one per line. Errors: the schema file is missing or does not compile (no_such_file_or_
// directory / invalid_argument, naming the file); the document violates it (invalid_argument).
[[nodiscard]] Status validate_relaxng(const XmlDocument& doc, const std::string& schema_path);

}  // namespace tide::vmm
