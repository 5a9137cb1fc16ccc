#include "vmm/api/memcg_json.hpp"

#include <boost/json/parse.hpp>

#include "guestmm/base/log.hpp"
#include "guestmm/memcg/memcg_events.hpp"
#include "guestmm/memcg/memcg_stat.hpp"

namespace tide::vmm::api {
namespace json = boost::json;
namespace memcg = gmm::memcg;
namespace {

Error bad(const std::string& what) { return make_error(std::errc::invalid_argument, what); }

uint64_t bytes(uint64_t pages) { return pages << gmm::kPageShift; }

json::object events_json(const memcg::MemcgEvents& e) {
  json::object o;
  for (size_t i = 0; i < memcg::kEventCount; ++i) {
    const auto ev = static_cast<memcg::Event>(i);
    o[memcg::event_name(ev)] = e[ev];
  }
  return o;
}

json::object stat_json(const memcg::MemcgStat& s) {
  json::object o;
  for (size_t i = 0; i < memcg::kStatCount; ++i) {
    const auto st = static_cast<memcg::Stat>(i);
    o[memcg::stat_name(st)] = memcg::is_gauge(st) ? bytes(s[st]) : s[st];
  }
  return o;
}

json::object guest_json(const MemcgGuestView& g) {
  const gmm::GuestReclaimInfo& r = g.reclaim;
  const gmm::swap::SwapStats& w = r.swap;
  return json::object{
      {"oom_policy", gmm::reclaim::oom_policy_name(r.oom_policy)},
      {"swappiness", r.swappiness},
      {"stalled", r.stalled},
      {"parked_faults", g.stats.parked_faults},
      {"throttled_faults", g.stats.throttled_faults},
      {"sampled_faults", g.stats.sampled_faults},
      {"resident", bytes(g.stats.resident_frames)},
      {"swapped", bytes(g.stats.swapped_pages)},
      {"swap_in", g.stats.swap_in},
      {"swap_out", g.stats.swap_out},
      {"ballooned", bytes(g.stats.ballooned_frames)},
      {"lru",
       {{"inactive", bytes(r.lru_inactive)},
        {"active", bytes(r.lru_active)},
        {"isolated", bytes(r.lru_isolated)},
        {"sampled", bytes(r.lru_sampled)}}},
      {"sampler",
       {{"rounds", r.sampler.rounds},
        {"sampled", r.sampler.sampled},
        {"faults", r.sampler.faults},
        {"cold", r.sampler.cold},
        {"dirty_bits", r.sampler.dirty_bits},
        {"references", r.sampler.references}}},
      {"swap",
       {{"directory", r.swap_directory},
        {"created", r.swap_created},
        {"direct_io", r.swap_direct_io},
        {"size", r.swap_size_bytes},
        {"used", bytes(w.slots_live)},
        {"pages_out", w.pages_out},
        {"pages_in", w.pages_in},
        {"full", w.full},
        {"write_errors", w.write_errors},
        {"read_errors", w.read_errors}}}};
}

// A limit's value: bytes as a number, "max", or "512M".
Result<uint64_t> limit_value(const json::value& v, const std::string& key) {
  if (v.is_string()) {
    auto pages = memcg::parse_limit(std::string_view(v.as_string()));
    if (!pages) return bad("'" + key + "': " + pages.error().message());
    return *pages;
  }
  uint64_t n = 0;
  if (v.is_uint64()) n = v.as_uint64();
  else if (v.is_int64() && v.as_int64() >= 0) n = static_cast<uint64_t>(v.as_int64());
  else return bad("'" + key + "' must be bytes (a non-negative integer), \"max\", or a size such as \"512M\"");
  if (n == UINT64_MAX) return memcg::kUnlimited;
  auto pages = memcg::limit_pages_from_bytes(n);
  if (!pages) return bad("'" + key + "': " + pages.error().message());
  return *pages;
}

Result<json::object> body_object(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return bad("the body is not JSON: " + ec.message());
  if (!v.is_object()) return bad("the body must be a JSON object");
  return v.as_object();
}

}  // namespace

json::value memcg_limit_json(uint64_t pages) {
  if (pages >= memcg::kUnlimited) return "max";
  return bytes(pages);
}

json::object memcg_node_json(const memcg::MemcgSnapshot& n) {
  json::object settings;
  for (size_t i = 0; i < memcg::kLimitCount; ++i) {
    const auto l = static_cast<memcg::Limit>(i);
    settings[l == memcg::Limit::swap_max ? "swap_max" : memcg::limit_name(l)] = memcg_limit_json(n.settings.get(l));
  }
  json::object o{{"path", n.path}, {"name", n.name}, {"kind", memcg::kind_name(n.kind)}};
  if (n.kind != memcg::NodeKind::root) {
    const size_t slash = n.path.rfind('/');
    o["parent"] = slash == 0 ? std::string("/") : n.path.substr(0, slash);
  }
  o["settings"] = std::move(settings);
  o["current"] = bytes(n.current);
  o["peak"] = bytes(n.peak);
  o["swap_current"] = bytes(n.swap_current);
  o["swap_peak"] = bytes(n.swap_peak);
  o["events"] = events_json(n.events);
  o["events_local"] = events_json(n.events_local);
  o["stat"] = stat_json(n.stat);
  return o;
}

json::object memcg_view_json(const MemcgNodeView& view) {
  json::object o = memcg_node_json(view.node);
  if (view.guest) o["guest"] = guest_json(*view.guest);
  return o;
}

Result<MemcgUpdate> memcg_update_from_json(std::string_view body) {
  TIDE_TRY_ASSIGN(o, body_object(body));
  MemcgUpdate u;
  for (const auto& kv : o) {
    const std::string key(kv.key());
    const json::value& v = kv.value();
    memcg::Limit limit{};
    bool is_limit = true;
    if (key == "max") limit = memcg::Limit::max;
    else if (key == "high") limit = memcg::Limit::high;
    else if (key == "low") limit = memcg::Limit::low;
    else if (key == "min") limit = memcg::Limit::min;
    else if (key == "swap_max" || key == "swap.max") limit = memcg::Limit::swap_max;
    else is_limit = false;
    if (is_limit) {
      for (const MemcgLimitSetting& l : u.limits) {
        if (l.limit == limit) return bad("'" + key + "' is given twice");
      }
      TIDE_TRY_ASSIGN(pages, limit_value(v, key));
      u.limits.push_back(MemcgLimitSetting{limit, pages});
    } else if (key == "oom_policy") {
      if (!v.is_string()) return bad("'oom_policy' must be \"stall\" or \"stop\"");
      auto p = gmm::reclaim::parse_oom_policy(std::string_view(v.as_string()));
      if (!p) return bad("'oom_policy': " + p.error().message());
      u.oom_policy = *p;
    } else if (key == "swappiness") {
      const bool integer = v.is_uint64() || (v.is_int64() && v.as_int64() >= 0);
      const uint64_t n = v.is_uint64() ? v.as_uint64() : integer ? static_cast<uint64_t>(v.as_int64()) : 0;
      if (!integer || n > gmm::aging::kMaxSwappiness) return bad("'swappiness' must be an integer from 0 to 200");
      u.swappiness = static_cast<unsigned>(n);
    } else if (key == "reset_peak") {
      if (!v.is_bool()) return bad("'reset_peak' must be true or false");
      u.reset_peak = v.as_bool();
    } else {
      return bad("unknown key '" + key + "' (max, high, low, min, swap_max, oom_policy, swappiness, reset_peak)");
    }
  }
  if (u.empty()) return bad("nothing to change (max, high, low, min, swap_max, oom_policy, swappiness, reset_peak)");
  return u;
}

Result<std::string> memcg_group_from_json(std::string_view body) {
  TIDE_TRY_ASSIGN(o, body_object(body));
  const char* usage = "the body must be {\"path\": \"/tenant\"}";
  if (o.size() != 1 || !o.contains("path") || !o.at("path").is_string()) return bad(usage);
  return std::string(o.at("path").as_string());
}

}  // namespace tide::vmm::api
