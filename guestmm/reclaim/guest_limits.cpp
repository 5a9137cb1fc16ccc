#include "guestmm/reclaim/guest_limits.hpp"

namespace tide::gmm::reclaim {

const char* oom_policy_name(OomPolicy p) { return p == OomPolicy::stop ? "stop" : "stall"; }

Result<OomPolicy> parse_oom_policy(std::string_view text) {
  if (text == "stall") return OomPolicy::stall;
  if (text == "stop") return OomPolicy::stop;
  return make_error(std::errc::invalid_argument,
                    "unknown OOM policy '" + std::string(text) + "' (expected 'stall' or 'stop')");
}

}  // namespace tide::gmm::reclaim
