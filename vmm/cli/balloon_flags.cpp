#include "vmm/cli/balloon_flags.hpp"

#include <cstdlib>
#include <sstream>
#include <string>

#include "vmm/cli/size.hpp"

namespace tide::vmm {

bool balloon_flags_given(const Args& args) {
  return args.has("balloon") || args.has("current-memory") || args.has("balloon-stats-period") ||
         args.has("balloon-auto");
}

Result<std::optional<MachineBalloon>> balloon_from_flags(const Args& args, uint64_t memory_bytes) {
  auto bad = [](const std::string& m) { return make_error(std::errc::invalid_argument, m); };
  MachineBalloon b;
  b.features = balloon::BalloonFeatures{.must_tell_host = true, .stats = true, .deflate_on_oom = false, .reporting = true};
  b.control.stats_period_s = 1;
  if (auto list = args.get("balloon")) {
    if (*list == "none") {
      for (const char* flag : {"current-memory", "balloon-stats-period", "balloon-auto"}) {
        if (args.has(flag)) return bad("--" + std::string(flag) + " needs a balloon (not --balloon none)");
      }
      return std::optional<MachineBalloon>();
    }
    b.features = balloon::BalloonFeatures{.must_tell_host = false, .stats = false, .deflate_on_oom = false, .reporting = false};
    std::stringstream in(*list);
    std::string item;
    while (std::getline(in, item, ',')) {
      if (item == "mth") b.features.must_tell_host = true;
      else if (item == "stats") b.features.stats = true;
      else if (item == "oom") b.features.deflate_on_oom = true;
      else if (item == "report") b.features.reporting = true;
      else if (item == "default") b.features.must_tell_host = b.features.stats = b.features.reporting = true;
      else return bad("--balloon: '" + item + "' is not one of mth, stats, oom, report, default (or none)");
    }
  }
  if (auto c = args.get("current-memory")) {
    auto bytes = parse_size(*c);
    if (!bytes) return bad("--current-memory: " + bytes.error().message());
    if (*bytes > memory_bytes) return bad("--current-memory: larger than the guest's memory");
    b.initial_target_bytes = gmm::align_down(memory_bytes - *bytes, gmm::kPageSize);
  }
  if (auto p = args.get("balloon-stats-period")) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(p->c_str(), &end, 10);
    if (p->empty() || *end != '\0' || v > 86400) return bad("--balloon-stats-period: '" + *p + "' is not 0..86400 seconds");
    b.control.stats_period_s = static_cast<uint32_t>(v);
  }
  if (auto a = args.get("balloon-auto")) {
    auto bytes = parse_size(*a);
    if (!bytes) return bad("--balloon-auto: " + bytes.error().message());
    if (!b.features.stats) return bad("--balloon-auto needs the stats feature (--balloon ...,stats)");
    BalloonAutoOptions o;
    o.params.free_margin_bytes = *bytes;
    b.control.auto_mode = o;
  }
  return std::optional<MachineBalloon>(b);
}

}  // namespace tide::vmm
