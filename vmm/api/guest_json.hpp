// JSON forms of tide's control API: a guest definition as tide's own JSON (the alternative
// to libvirt domain XML), and the answers (guest info, pool figures). Parsing is strict:
// unknown keys and wrong types are errors naming the key.
//
// Definition: {"name": "g1", "memory": "512M" | bytes, "current_memory": ..., "vcpus": 1,
//   "kernel": path, "initrd": path, "cmdline": str, "rng": true,
//   "console": "null" | "pty" | {"file": path},
//   "balloon": {"enabled", "autodeflate", "free_page_reporting", "stats_period"},
//   "memtune": {"hard_limit", "soft_limit", "swap_hard_limit", "min_guarantee"},
//   "partition": "/tenant",
//   "memory_control": {"oom_policy", "swappiness", "swap_size", "swap_directory", "low"}}
// Sizes are a number of bytes, or a string with a unit ("512M", "2GiB"); "unlimited" or
// -1 for memtune limits and memory_control.low.
#pragma once

#include <boost/json/object.hpp>

#include <string_view>

#include "guestmm/base/error.hpp"
#include "guestmm/memory_manager.hpp"
#include "vmm/api/http.hpp"
#include "vmm/config/guest_config.hpp"
#include "vmm/host/guest.hpp"

namespace tide::vmm::api {

[[nodiscard]] Result<GuestConfig> guest_config_from_json(std::string_view body);
[[nodiscard]] boost::json::object guest_info_json(const GuestInfo& info);
// A size: bytes as a number, or a string with a unit ("512M"); errors name `key`.
[[nodiscard]] Result<uint64_t> json_size(const boost::json::value& v, const std::string& key);
[[nodiscard]] boost::json::object pool_json(const gmm::PoolStats& pool);
// The HTTP status for an error from the guest manager (404 unknown guest, 409 conflict...).
[[nodiscard]] unsigned http_status_for(const Error& error);
// A JSON answer, and an error as tide's one error shape with the status above.
[[nodiscard]] HttpResponse json_ok(const boost::json::value& v, unsigned status = 200);
[[nodiscard]] HttpResponse error_response(const Error& e);

}  // namespace tide::vmm::api
