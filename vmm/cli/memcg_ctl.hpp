// `tide ctl memcg ...` and `tide ctl memcg-group ...`: the arguments turned into an API
// request (pure, so every spelling is tested without a daemon), and the answers turned
// into text the way cgroup v2's files read ("memory.max max", "memory.events high 3").
//   memcg                              every node, one line each: path, kind, current, max, swap
//   memcg NAME [get]                   one node's files, then tide's own (OOM policy, swap file, LRU)
//   memcg NAME set KEY=VALUE...        max, high, low, min, swap.max (a size or max),
//                                      oom_policy (stall|stop), swappiness (0..200)
//   memcg NAME reset-peak              memory.peak and memory.swap.peak = current
//   memcg-group create PATH | remove PATH
// NAME is a guest, a group's name or a path (/tenant); it is URL-encoded into the target.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <vector>

#include "guestmm/base/error.hpp"

namespace tide::vmm {

struct MemcgCtlRequest {
  enum class Answer { list, node, removed };
  std::string method;
  std::string target;  // "/api/v1/memcg/%2Ftenant"
  std::string body;    // JSON, or empty
  Answer answer = Answer::node;
};

// `verb` is "memcg" or "memcg-group"; `args` what follows it. Errors: usage, an unknown
// key, a setting without '=', a key given twice, a swappiness that is not a number.
[[nodiscard]] Result<MemcgCtlRequest> memcg_ctl_request(const std::string& verb, const std::vector<std::string>& args);
// Every byte but letters, digits, '-', '_', '.', '~' as %XX.
[[nodiscard]] std::string url_encode(const std::string& text);

// The answers as text (each line ends in '\n').
[[nodiscard]] std::string format_memcg_list(const boost::json::object& answer);
[[nodiscard]] std::string format_memcg_node(const boost::json::object& node);
// The short memcg part of `tide ctl info` (from the guest info's "memcg"), or "" without.
[[nodiscard]] std::string format_guest_memcg(const boost::json::object& guest_info);

extern const char* const kMemcgCtlUsage;

}  // namespace tide::vmm
