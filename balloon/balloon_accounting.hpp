// BalloonAccounting: classifies the pages of each accepted inflate and deflate request
// against the target (num_pages), so migrations and OOM deflates are told apart from the
// deflates the host asked for. Pure (no I/O); the owner serializes calls.
//
// The rule. Linux balloon compaction migrates a ballooned page by inflating the new page
// and then deflating the old one (virtballoon_migratepage: tell_host(inflate_vq), then
// tell_host(deflate_vq)); nothing else marks a migration on the wire. So:
//   - excess E counts pages inflated beyond the target ("unrequested"): an inflate of n
//     pages into a balloon of B pages with target T adds max(0, n - max(0, T - B)) to E.
//   - a deflate of m pages first consumes E: min(m, E) pages are `migrated`; of the rest,
//     the pages that bring the balloon down towards a target below it are `requested`, and
//     the pages that take it to or below the target are `oom` if DEFLATE_ON_OOM was
//     negotiated (the guest may do that under memory pressure, §5.5.6.1) and `unrequested`
//     otherwise (a driver unload or a driver bug; honoured anyway).
//   - E never exceeds how far the balloon is above its target: E <= max(0, B - T) for
//     every target the host set since (set_target to a higher value forgives excess, since
//     those pages are now wanted). The device passes the highest target seen between two
//     requests to sync_target().
// Limits: a migration while the balloon is still filling towards a higher target looks
// like a fill followed by a deflate at or below target (oom/unrequested); the balloon size
// and the host accounting stay exact either way, only the classification differs.
#pragma once

#include <cstdint>

#include "guestmm/base/error.hpp"

namespace tide::balloon {

struct InflateSplit {
  uint64_t requested = 0;    // pages the target asked for
  uint64_t unrequested = 0;  // pages beyond the target (added to the excess)
};

struct DeflateSplit {
  uint64_t migrated = 0;     // pages that undo unrequested inflates
  uint64_t requested = 0;    // pages the lowered target asked for
  uint64_t oom = 0;          // pages taken at or below target, DEFLATE_ON_OOM negotiated
  uint64_t unrequested = 0;  // pages taken at or below target without DEFLATE_ON_OOM
  [[nodiscard]] uint64_t total() const { return migrated + requested + oom + unrequested; }
};

class BalloonAccounting {
 public:
  // Before a request: `highest_target` is the highest target since the previous request,
  // `size` the balloon's size now.
  void sync_target(uint64_t size, uint64_t highest_target);
  // `pages` were accepted into a balloon that held `size_before` pages, target `target`.
  InflateSplit on_inflate(uint64_t pages, uint64_t size_before, uint64_t target);
  // `pages` were taken out of a balloon that held `size_before` (>= pages) pages.
  DeflateSplit on_deflate(uint64_t pages, uint64_t size_before, uint64_t target, bool deflate_on_oom);
  void reset() {
    excess_ = 0;
    last_target_ = 0;
  }

  [[nodiscard]] uint64_t excess() const { return excess_; }
  // The target of the last call (sync_target's highest target, or the request's).
  [[nodiscard]] uint64_t last_target() const { return last_target_; }
  // E <= max(0, size - last_target()), `size` being the balloon's size now.
  [[nodiscard]] Status check_invariants(uint64_t size) const;

 private:
  void clamp(uint64_t size, uint64_t target);
  uint64_t excess_ = 0;
  uint64_t last_target_ = 0;
};

}  // namespace tide::balloon
