// BalloonSchedule: the targets the balloon experiment walks through, as the share of RAM
// the guest keeps (percent) and the balloon size that leaves it that (bytes, whole 4 KiB
// pages: virtio-balloon counts pages). The guest starts with all its RAM (100 %, empty
// balloon); each step sets one target. Pure; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "guestmm/base/error.hpp"

namespace tide::vmm::bench {

// virtio-balloon's page unit (virtio 1.x, 5.5.6: VIRTIO_BALLOON_PFN_SHIFT 12).
inline constexpr uint64_t kBalloonPageBytes = 4096;

enum class StepKind { inflate, deflate, hold };
[[nodiscard]] const char* step_kind_name(StepKind kind);

struct BalloonStep {
  double guest_percent = 100;  // share of RAM the guest keeps after this step
  uint64_t balloon_bytes = 0;  // RAM - guest share, rounded down to whole pages
  uint64_t from_bytes = 0;     // the previous step's balloon_bytes (0 for the first)
  [[nodiscard]] StepKind kind() const {
    return balloon_bytes > from_bytes ? StepKind::inflate : balloon_bytes < from_bytes ? StepKind::deflate : StepKind::hold;
  }
};

struct BalloonSchedule {
  uint64_t memory_bytes = 0;
  std::vector<BalloonStep> steps;
  // "100,75,50,25,50,75,100": the start and each step's guest percent.
  [[nodiscard]] std::string describe() const;
};

// The default: the guest from full to 25 % and back in quarters,
// 100 -> 75 -> 50 -> 25 -> 50 -> 75 -> 100 (six steps).
inline constexpr const char* kDefaultSchedule = "100,75,50,25,50,75,100";

inline constexpr size_t kMaxScheduleSteps = 1000;

// Parses a comma-separated list of the percent of RAM the guest keeps after each step
// ("75", "37.5" and "75%" are accepted). A leading 100 only states the start and is not
// a step. Errors (invalid_argument, naming the entry and what is allowed): an empty
// list or entry, not a number, a value outside (0, 100], more than kMaxScheduleSteps
// steps, a list with no step (just "100"). The guest keeps at least one page.
[[nodiscard]] Result<BalloonSchedule> parse_balloon_schedule(const std::string& text, uint64_t memory_bytes);

// The balloon size that leaves the guest `guest_percent` of `memory_bytes`, in whole pages.
[[nodiscard]] uint64_t balloon_bytes_for(double guest_percent, uint64_t memory_bytes);

}  // namespace tide::vmm::bench
