// Helpers shared by e2e tests: paths of the built artifacts, running tide, and parsing
// tideguest's transcript lines.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace tide::test {

inline const std::string kTide = TIDE_BINARY;
inline const std::string kTideguest = TIDEGUEST_ELF;
inline const std::string kVmlinux = std::string(TIDE_BUILD_DIR) + "/images/linux/vmlinux";

inline bool have_kvm() { return ::access("/dev/kvm", F_OK) == 0; }
#define TIDE_REQUIRE_KVM()                                         \
  do {                                                             \
    if (!::tide::test::have_kvm()) GTEST_SKIP() << "no /dev/kvm"; \
  } while (0)

// `tide run` of tideguest with a tide.run script.
inline std::vector<std::string> tideguest_run(const std::string& script, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {kTide, "run", "--kernel", kTideguest, "--cmdline", "tide.run=\"" + script + "\""};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// key=value fields of the first line that starts with `prefix`.
inline std::map<std::string, std::string> fields_of(const std::string& text, const std::string& prefix) {
  std::map<std::string, std::string> out;
  size_t at = text.find(prefix);
  if (at == std::string::npos) return out;
  std::string line = text.substr(at, text.find('\n', at) - at);
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string::npos) end = line.size();
    std::string word = line.substr(pos, end - pos);
    if (size_t eq = word.find('='); eq != std::string::npos && eq > 0) out[word.substr(0, eq)] = word.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

inline int count_lines(const std::string& text, const std::string& prefix) {
  int n = 0;
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) ++n;
  return n;
}

}  // namespace tide::test
