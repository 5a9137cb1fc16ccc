#include "balloon/balloon_accounting.hpp"

#include <algorithm>

#include "guestmm/base/log.hpp"

namespace tide::balloon {
namespace {

uint64_t above(uint64_t size, uint64_t target) { return size > target ? size - target : 0; }

}  // namespace

void BalloonAccounting::clamp(uint64_t size, uint64_t target) {
  excess_ = std::min(excess_, above(size, target));
  last_target_ = target;
}

void BalloonAccounting::sync_target(uint64_t size, uint64_t highest_target) { clamp(size, highest_target); }

InflateSplit BalloonAccounting::on_inflate(uint64_t pages, uint64_t size_before, uint64_t target) {
  InflateSplit split;
  split.requested = std::min(pages, target > size_before ? target - size_before : 0);
  split.unrequested = pages - split.requested;
  excess_ += split.unrequested;
  clamp(size_before + pages, target);
  return split;
}

DeflateSplit BalloonAccounting::on_deflate(uint64_t pages, uint64_t size_before, uint64_t target,
                                           bool deflate_on_oom) {
  DeflateSplit split;
  pages = std::min(pages, size_before);
  split.migrated = std::min(pages, excess_);
  excess_ -= split.migrated;
  uint64_t rest = pages - split.migrated;
  split.requested = std::min(rest, above(size_before - split.migrated, target));
  uint64_t below = rest - split.requested;
  (deflate_on_oom ? split.oom : split.unrequested) = below;
  clamp(size_before - pages, target);
  return split;
}

Status BalloonAccounting::check_invariants(uint64_t size) const {
  const uint64_t target = last_target_;
  if (excess_ > above(size, target)) {
    return make_error(std::errc::state_not_recoverable,
                      log::strf("balloon accounting: excess %llu pages, balloon %llu, target %llu",
                                static_cast<unsigned long long>(excess_), static_cast<unsigned long long>(size),
                                static_cast<unsigned long long>(target)));
  }
  return ok();
}

}  // namespace tide::balloon
