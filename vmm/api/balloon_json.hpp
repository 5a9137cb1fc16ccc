// JSON forms of a guest's balloon for tide's API and the CH-compatible API: the device's
// status, tide's counters, and the guest's statistics under libvirt's `virsh dommemstat`
// names (KiB except the counts; last_update in seconds since the epoch).
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "balloon/balloon_device.hpp"
#include "guestmm/base/error.hpp"
#include "vmm/machine/balloon_controller.hpp"

namespace tide::vmm::api {

// {"target_bytes", "actual_bytes", "balloon_bytes", "ram_bytes", "active", "features": [...],
//  "stats": dommemstat, "counters": {...}}. `rss_bytes`: host memory backing the guest.
// `queue_faults`: the virtqueues' faults by kind (malformed chains), counted in bad_requests.
[[nodiscard]] boost::json::object balloon_json(const balloon::BalloonStatus& status, uint64_t rss_bytes,
                                               const std::map<std::string, uint64_t>& queue_faults = {});
// dommemstat names: actual, swap_in, swap_out, major_fault, minor_fault, unused, available,
// usable, disk_caches, hugetlb_pgalloc, hugetlb_pgfail, rss, last_update. A statistic the
// guest has not sent is left out (as libvirt does); actual and rss are always there.
[[nodiscard]] boost::json::object dommemstat_json(const balloon::BalloonStatus& status, uint64_t rss_bytes);
[[nodiscard]] boost::json::object balloon_counters_json(const balloon::BalloonCounters& c,
                                                        const std::map<std::string, uint64_t>& queue_faults = {});
// A request to the balloon, one of: {"size": S} (the balloon's size), {"current_memory": S}
// (what the guest keeps), {"auto": {"margin": S, "min_guest": S, "max_step": S}} (auto
// mode on; every key optional) or {"auto": false}. S in bytes or with a unit ("256M").
struct BalloonRequest {
  std::optional<uint64_t> size;  // the balloon's size in bytes (current_memory converted)
  bool set_auto = false;         // an "auto" request: auto_options on, or nullopt: off
  std::optional<BalloonAutoOptions> auto_options;
};
[[nodiscard]] Result<BalloonRequest> balloon_request_from_json(std::string_view body, uint64_t memory_bytes);
[[nodiscard]] boost::json::object balloon_auto_json(const BalloonAutoStatus& status);

}  // namespace tide::vmm::api
