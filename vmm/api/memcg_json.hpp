// JSON forms of the memory cgroups for tide's API (docs/api.md "Memory cgroups"): a node
// (settings, usage, events, stat), a guest's reclaim state beside it, and the bodies of
// the writes. Sizes are bytes; a limit is bytes or "max"; counts are counts. Parsing is
// strict: unknown keys and wrong types are errors naming the key, and nothing is applied
// from a body with an error in it.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "guestmm/base/error.hpp"
#include "guestmm/memcg/memcg_node.hpp"
#include "vmm/host/memcg_control.hpp"

namespace tide::vmm::api {

// A limit: its bytes as a number, or "max".
[[nodiscard]] boost::json::value memcg_limit_json(uint64_t pages);
// {"path", "name", "kind", "parent", "settings": {"max", "high", "low", "min", "swap_max"},
//  "current", "peak", "swap_current", "swap_peak", "events": {...}, "events_local": {...},
//  "stat": {...}}: usage and stat gauges in bytes, events and stat counters as counts.
[[nodiscard]] boost::json::object memcg_node_json(const gmm::memcg::MemcgSnapshot& node);
// memcg_node_json, plus "guest" for a guest with memory now: "oom_policy", "swappiness",
// "stalled", "parked_faults", "throttled_faults", "sampled_faults", "resident",
// "swapped", "swap_in", "swap_out", "lru" (bytes), "sampler" (counts), "swap" (the
// file: "directory", "created", "direct_io", "size", "used", and its counters).
[[nodiscard]] boost::json::object memcg_view_json(const MemcgNodeView& view);

// A write to a node: {"max": L, "high": L, "low": L, "min": L, "swap_max": L,
// "oom_policy": "stall"|"stop", "swappiness": 0..200, "reset_peak": true}, every key
// optional, at least one; L is bytes as a number (whole 4 KiB pages), "max", or a string
// with a K/M/G/T suffix ("512M"). "swap.max" is accepted for "swap_max".
[[nodiscard]] Result<MemcgUpdate> memcg_update_from_json(std::string_view body);
// {"path": "/tenant"}: the group to create.
[[nodiscard]] Result<std::string> memcg_group_from_json(std::string_view body);

}  // namespace tide::vmm::api
