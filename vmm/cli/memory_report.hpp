// One-line reports of a guest's memory and of the pool, for `tide run --stats-interval`
// and the exit summary.
#pragma once

#include <string>

#include "balloon/balloon_device.hpp"
#include "guestmm/guest_mm.hpp"
#include "guestmm/memory_manager.hpp"

namespace tide::vmm {

[[nodiscard]] std::string guest_memory_line(const gmm::GuestMm& guest);
[[nodiscard]] std::string pool_line(const gmm::PoolStats& pool);
// The balloon: target, actual, pages moved, bad requests, host memory released.
[[nodiscard]] std::string balloon_line(const balloon::BalloonStatus& status);

}  // namespace tide::vmm
