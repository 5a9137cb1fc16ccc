#include "vmm/bench/balloon_schedule.hpp"

#include <cmath>
#include <cstdlib>

#include "guestmm/base/log.hpp"

namespace tide::vmm::bench {

const char* step_kind_name(StepKind kind) {
  switch (kind) {
    case StepKind::inflate: return "inflate";
    case StepKind::deflate: return "deflate";
    case StepKind::hold: return "hold";
  }
  return "?";
}

uint64_t balloon_bytes_for(double guest_percent, uint64_t memory_bytes) {
  const double keep = static_cast<double>(memory_bytes) * guest_percent / 100.0;
  // Round the guest's share up to a page, so the balloon is whole pages and never more
  // than asked for; 100 % is an empty balloon exactly.
  const double keep_pages = std::ceil(keep / static_cast<double>(kBalloonPageBytes) - 1e-9);
  const uint64_t keep_bytes = static_cast<uint64_t>(keep_pages) * kBalloonPageBytes;
  if (keep_bytes >= memory_bytes) return 0;
  return (memory_bytes - keep_bytes) / kBalloonPageBytes * kBalloonPageBytes;
}

std::string BalloonSchedule::describe() const {
  std::string out = "100";
  for (const auto& s : steps) out += "," + log::strf("%g", s.guest_percent);
  return out;
}

Result<BalloonSchedule> parse_balloon_schedule(const std::string& text, uint64_t memory_bytes) {
  auto bad = [&](const std::string& why) {
    return make_error(std::errc::invalid_argument,
                      "schedule '" + text + "': " + why +
                          " (a comma-separated list of the percent of RAM the guest keeps, e.g. " + kDefaultSchedule + ")");
  };
  if (text.empty()) return bad("empty");
  if (memory_bytes < kBalloonPageBytes) return bad("guest memory is less than one page");
  std::vector<double> values;
  size_t pos = 0;
  for (;;) {
    const size_t comma = text.find(',', pos);
    std::string entry = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const size_t index = values.size() + 1;
    while (!entry.empty() && entry.front() == ' ') entry.erase(0, 1);
    while (!entry.empty() && entry.back() == ' ') entry.pop_back();
    if (!entry.empty() && entry.back() == '%') entry.pop_back();
    if (entry.empty()) return bad(log::strf("entry %zu is empty", index));
    // strtod alone would take "0x10", "inf" and "nan": only digits and one point here.
    bool digits = false, point = false;
    for (char c : entry) {
      if (c >= '0' && c <= '9') digits = true;
      else if (c == '.' && !point) point = true;
      else return bad(log::strf("entry %zu ('%s') is not a number", index, entry.c_str()));
    }
    if (!digits) return bad(log::strf("entry %zu ('%s') is not a number", index, entry.c_str()));
    const double v = std::strtod(entry.c_str(), nullptr);
    if (!(v > 0) || v > 100) return bad(log::strf("entry %zu (%s) is not above 0 and at most 100", index, entry.c_str()));
    values.push_back(v);
    if (values.size() > kMaxScheduleSteps + 1) return bad(log::strf("more than %zu steps", kMaxScheduleSteps));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  // The run starts with the whole RAM; a leading 100 says so and is not a step.
  if (values.front() == 100) values.erase(values.begin());
  if (values.empty()) return bad("no step after the start (100)");
  if (values.size() > kMaxScheduleSteps) return bad(log::strf("more than %zu steps", kMaxScheduleSteps));
  BalloonSchedule schedule;
  schedule.memory_bytes = memory_bytes;
  uint64_t from = 0;
  for (double v : values) {
    BalloonStep step;
    step.guest_percent = v;
    step.balloon_bytes = balloon_bytes_for(v, memory_bytes);
    step.from_bytes = from;
    from = step.balloon_bytes;
    schedule.steps.push_back(step);
  }
  return schedule;
}

}  // namespace tide::vmm::bench
