// Helpers for the domain XML tests: a small domain document builder (each part on its own
// lines, so tests know which line an element is on), fixture loading, and message checks.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "vmm/config/domain_xml.hpp"

namespace tide::vmm::testing {

inline DomainXmlOptions no_schema() {
  DomainXmlOptions o;
  o.validate = false;
  return o;
}

// <domain type='kvm'>                                    line 1
//   <name>t</name>                                       line 2
//   <memory unit='MiB'>512</memory>   (`memory`)         line 3
//   `top`: one element per line                          line 4...
//   <os>...</os>                      (`os`, one line)
//   <devices>
//   `devices`: one element per line
//   </devices>
// </domain>
struct Doc {
  std::string memory = "<memory unit='MiB'>512</memory>";
  std::string top;
  std::string os = "<os><type arch='x86_64'>hvm</type></os>";
  std::string devices;

  [[nodiscard]] std::string str() const {
    std::string s = "<domain type='kvm'>\n  <name>t</name>\n";
    if (!memory.empty()) s += "  " + memory + "\n";
    if (!top.empty()) s += top + "\n";
    s += "  " + os + "\n";
    s += "  <devices>\n";
    if (!devices.empty()) s += devices + "\n";
    s += "  </devices>\n</domain>\n";
    return s;
  }
};

inline std::string source_path(const std::string& relative) { return std::string(TIDE_SOURCE_DIR) + "/" + relative; }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string fixture_path(const std::string& name) { return source_path("tests/unit/vmm/fixtures/" + name); }

// The warning that names `path`, or "" if none does.
inline std::string warning_for(const GuestConfig& c, const std::string& path) {
  for (const std::string& w : c.warnings) {
    if (w.find(": " + path + ":") != std::string::npos) return w;
  }
  return "";
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The parse's error message; fails the test if parsing succeeded.
inline std::string error_of(const Result<GuestConfig>& r) {
  EXPECT_FALSE(r.has_value()) << "parsing succeeded";
  return r ? std::string() : r.error().message();
}

}  // namespace tide::vmm::testing
