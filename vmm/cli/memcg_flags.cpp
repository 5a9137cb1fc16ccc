#include "vmm/cli/memcg_flags.hpp"

#include <cstdlib>
#include <string>

#include "vmm/cli/size.hpp"

namespace tide::vmm {
namespace {

namespace memcg = gmm::memcg;

constexpr uint64_t kMaxSwapBytes = uint64_t{1} << 50;

Error bad_flag(const char* flag, const std::string& what) {
  return make_error(std::errc::invalid_argument, std::string("--") + flag + ": " + what);
}

// "max", or a size in whole pages.
Result<uint64_t> limit_flag(const char* flag, const std::string& text) {
  if (text == "max") return memcg::kUnlimited;
  auto bytes = parse_size(text);
  if (!bytes) return bad_flag(flag, bytes.error().message());
  auto pages = memcg::limit_pages_from_bytes(*bytes);
  if (!pages) return bad_flag(flag, pages.error().message());
  return *pages;
}

}  // namespace

bool memcg_flags_given(const Args& args) {
  for (const char* flag : kMemcgFlags) {
    if (args.has(flag)) return true;
  }
  return false;
}

Result<MachineMemcg> memcg_from_flags(const Args& args) {
  MachineMemcg m;
  const std::pair<const char*, memcg::Limit> limits[] = {{"memory-max", memcg::Limit::max},
                                                         {"memory-high", memcg::Limit::high},
                                                         {"memory-low", memcg::Limit::low},
                                                         {"memory-min", memcg::Limit::min},
                                                         {"swap-max", memcg::Limit::swap_max}};
  for (const auto& [flag, limit] : limits) {
    if (auto v = args.get(flag)) {
      TIDE_TRY_ASSIGN(pages, limit_flag(flag, *v));
      m.limits.push_back(MemcgLimitSetting{limit, pages});
    }
  }
  if (auto p = args.get("oom-policy")) {
    auto policy = gmm::reclaim::parse_oom_policy(*p);
    if (!policy) return bad_flag("oom-policy", policy.error().message());
    m.oom_policy = *policy;
  }
  if (auto s = args.get("swappiness")) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(s->c_str(), &end, 10);
    if (s->empty() || *end != '\0' || (*s)[0] == '-' || v > gmm::aging::kMaxSwappiness) {
      return bad_flag("swappiness", "'" + *s + "' is not a number from 0 to 200");
    }
    m.swappiness = static_cast<unsigned>(v);
  }
  if (auto s = args.get("swap-size")) {
    auto bytes = parse_size(*s);
    if (!bytes) return bad_flag("swap-size", bytes.error().message());
    if (*bytes > kMaxSwapBytes) return bad_flag("swap-size", "'" + *s + "' is larger than tide's 1 PiB");
    m.swap_bytes = gmm::align_up(*bytes, gmm::kPageSize);
  }
  if (auto d = args.get("swap-dir")) {
    if (d->empty()) return bad_flag("swap-dir", "give a directory");
    m.swap_directory = *d;
  }
  return m;
}

}  // namespace tide::vmm
