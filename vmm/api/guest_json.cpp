#include "vmm/api/guest_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <set>

#include "guestmm/base/log.hpp"
#include "vmm/api/balloon_json.hpp"
#include "vmm/api/memcg_json.hpp"
#include "vmm/cli/size.hpp"
#include "vmm/machine/machine_memcg.hpp"

namespace tide::vmm::api {
namespace json = boost::json;
namespace {

Error bad(const std::string& what) { return make_error(std::errc::invalid_argument, what); }

Status only_keys(const json::object& o, const std::set<std::string>& allowed, const std::string& where) {
  for (const auto& kv : o) {
    std::string k(kv.key());
    if (!allowed.count(k)) return bad(where + ": unknown key '" + k + "'");
  }
  return ok();
}

Result<std::string> get_string(const json::value& v, const std::string& key) {
  if (!v.is_string()) return bad("'" + key + "' must be a string");
  return std::string(v.as_string());
}

Result<bool> get_bool(const json::value& v, const std::string& key) {
  if (!v.is_bool()) return bad("'" + key + "' must be true or false");
  return v.as_bool();
}

Result<uint64_t> get_uint(const json::value& v, const std::string& key, uint64_t max) {
  uint64_t n = 0;
  if (v.is_uint64()) n = v.as_uint64();
  else if (v.is_int64() && v.as_int64() >= 0) n = static_cast<uint64_t>(v.as_int64());
  else return bad("'" + key + "' must be a non-negative integer");
  if (n > max) return bad(log::strf("'%s' is too large (at most %llu)", key.c_str(), static_cast<unsigned long long>(max)));
  return n;
}

// A size: bytes as a number, or a string with a unit; "unlimited"/-1 when allowed.
Result<uint64_t> get_size(const json::value& v, const std::string& key, bool unlimited_ok) {
  if (unlimited_ok && ((v.is_int64() && v.as_int64() == -1) || (v.is_string() && v.as_string() == "unlimited"))) {
    return kUnlimited;
  }
  if (v.is_string()) {
    std::string s(v.as_string());
    if (!s.empty() && std::isdigit(static_cast<unsigned char>(s.back()))) {
      return bad("'" + key + "': give bytes as a number, or a size with a unit such as \"512M\"");
    }
    auto r = parse_size(s);
    if (!r) return bad("'" + key + "': " + r.error().message());
    return *r;
  }
  return get_uint(v, key, uint64_t{1} << 50);
}

}  // namespace

Result<GuestConfig> guest_config_from_json(std::string_view body) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec) return bad("the body is not JSON: " + ec.message());
  if (!doc.is_object()) return bad("the body must be a JSON object");
  const json::object& o = doc.as_object();
  TIDE_TRY(only_keys(o, {"name", "uuid", "memory", "current_memory", "vcpus", "kernel", "initrd", "cmdline", "rng",
                         "console", "balloon", "memtune", "partition", "memory_control"},
                     "guest"));
  GuestConfig c;
  if (!o.contains("name")) return bad("'name' is required");
  TIDE_TRY_ASSIGN(name, get_string(o.at("name"), "name"));
  c.name = name;
  if (o.contains("uuid")) {
    TIDE_TRY_ASSIGN(uuid, get_string(o.at("uuid"), "uuid"));
    c.uuid = uuid;
  }
  if (o.contains("memory")) {
    TIDE_TRY_ASSIGN(m, get_size(o.at("memory"), "memory", false));
    c.memory_bytes = m;
  }
  if (o.contains("current_memory")) {
    TIDE_TRY_ASSIGN(m, get_size(o.at("current_memory"), "current_memory", false));
    c.current_memory_bytes = m;
  }
  if (o.contains("vcpus")) {
    TIDE_TRY_ASSIGN(n, get_uint(o.at("vcpus"), "vcpus", 254));
    c.vcpus = static_cast<uint32_t>(n);
  }
  for (auto [key, field] : {std::pair{"kernel", &c.kernel}, std::pair{"initrd", &c.initrd}, std::pair{"cmdline", &c.cmdline}}) {
    if (o.contains(key)) {
      TIDE_TRY_ASSIGN(s, get_string(o.at(key), key));
      *field = s;
    }
  }
  if (o.contains("rng")) {
    TIDE_TRY_ASSIGN(b, get_bool(o.at("rng"), "rng"));
    c.rng = b;
  }
  if (o.contains("console")) {
    const json::value& v = o.at("console");
    if (v.is_string() && v.as_string() == "pty") c.console.kind = ConsoleConfig::Kind::pty;
    else if (v.is_string() && v.as_string() == "null") c.console.kind = ConsoleConfig::Kind::null;
    else if (v.is_object() && v.as_object().size() == 1 && v.as_object().contains("file")) {
      TIDE_TRY_ASSIGN(path, get_string(v.as_object().at("file"), "console.file"));
      c.console.kind = ConsoleConfig::Kind::file;
      c.console.path = path;
    } else {
      return bad("'console' must be \"pty\", \"null\" or {\"file\": path}");
    }
  }
  if (o.contains("balloon")) {
    if (!o.at("balloon").is_object()) return bad("'balloon' must be an object");
    const json::object& b = o.at("balloon").as_object();
    TIDE_TRY(only_keys(b, {"enabled", "autodeflate", "free_page_reporting", "stats_period"}, "balloon"));
    for (auto [key, field] : {std::pair{"enabled", &c.balloon.enabled}, std::pair{"autodeflate", &c.balloon.autodeflate},
                              std::pair{"free_page_reporting", &c.balloon.free_page_reporting}}) {
      if (b.contains(key)) {
        TIDE_TRY_ASSIGN(v, get_bool(b.at(key), std::string("balloon.") + key));
        *field = v;
      }
    }
    if (b.contains("stats_period")) {
      TIDE_TRY_ASSIGN(p, get_uint(b.at("stats_period"), "balloon.stats_period", 86400));
      c.balloon.stats_period_s = static_cast<uint32_t>(p);
    }
  }
  if (o.contains("partition")) {
    TIDE_TRY_ASSIGN(partition, get_string(o.at("partition"), "partition"));
    if (Status st = check_memcg_group_path(partition); !st) return bad("'partition': " + st.error().message());
    c.partition = partition == "/" ? "" : partition;
  }
  if (o.contains("memory_control")) {
    if (!o.at("memory_control").is_object()) return bad("'memory_control' must be an object");
    const json::object& m = o.at("memory_control").as_object();
    TIDE_TRY(only_keys(m, {"oom_policy", "swappiness", "swap_size", "swap_directory", "low"}, "memory_control"));
    MemoryControlConfig& mc = c.memory_control;
    if (m.contains("oom_policy")) {
      TIDE_TRY_ASSIGN(p, get_string(m.at("oom_policy"), "memory_control.oom_policy"));
      auto policy = gmm::reclaim::parse_oom_policy(p);
      if (!policy) return bad("'memory_control.oom_policy': " + policy.error().message());
      mc.oom_policy = *policy;
    }
    if (m.contains("swappiness")) {
      TIDE_TRY_ASSIGN(n, get_uint(m.at("swappiness"), "memory_control.swappiness", gmm::aging::kMaxSwappiness));
      mc.swappiness = static_cast<unsigned>(n);
    }
    if (m.contains("swap_size")) {
      TIDE_TRY_ASSIGN(n, get_size(m.at("swap_size"), "memory_control.swap_size", false));
      mc.swap_size_bytes = n;
    }
    if (m.contains("swap_directory")) {
      TIDE_TRY_ASSIGN(d, get_string(m.at("swap_directory"), "memory_control.swap_directory"));
      if (d.empty() || d.front() != '/') return bad("'memory_control.swap_directory' must be an absolute directory");
      mc.swap_directory = d;
    }
    if (m.contains("low")) {
      TIDE_TRY_ASSIGN(n, get_size(m.at("low"), "memory_control.low", true));
      mc.low = n;
    }
  }
  if (o.contains("memtune")) {
    if (!o.at("memtune").is_object()) return bad("'memtune' must be an object");
    const json::object& m = o.at("memtune").as_object();
    TIDE_TRY(only_keys(m, {"hard_limit", "soft_limit", "swap_hard_limit", "min_guarantee"}, "memtune"));
    for (auto [key, field] : {std::pair{"hard_limit", &c.memtune.hard_limit}, std::pair{"soft_limit", &c.memtune.soft_limit},
                              std::pair{"swap_hard_limit", &c.memtune.swap_hard_limit},
                              std::pair{"min_guarantee", &c.memtune.min_guarantee}}) {
      if (m.contains(key)) {
        TIDE_TRY_ASSIGN(v, get_size(m.at(key), std::string("memtune.") + key, true));
        *field = v;
      }
    }
  }
  return c;
}

Result<uint64_t> json_size(const json::value& v, const std::string& key) { return get_size(v, key, false); }

json::object guest_info_json(const GuestInfo& i) {
  json::object o;
  const GuestConfig& c = i.config;
  o["name"] = c.name;
  o["uuid"] = c.uuid;
  o["state"] = guest_state_name(i.state);
  o["vcpus"] = c.vcpus;
  o["memory_bytes"] = c.memory_bytes;
  if (c.current_memory_bytes) o["current_memory_bytes"] = *c.current_memory_bytes;
  o["kernel"] = c.kernel.empty() ? "tideguest" : c.kernel;
  o["cmdline"] = c.cmdline;
  if (!c.initrd.empty()) o["initrd"] = c.initrd;
  if (!c.partition.empty()) o["partition"] = c.partition;
  o["boots"] = i.boots;
  if (i.last_exit) {
    o["last_exit"] = {{"kind", vm_exit_kind_name(i.last_exit->kind)},
                      {"status", i.last_exit->status},
                      {"message", i.last_exit->message}};
  }
  if (i.memory) {
    const gmm::GuestMmStats& s = *i.memory;
    o["memory"] = {{"resident_bytes", s.resident_frames * gmm::kPageSize},
                   {"faults", s.faults},
                   {"fault_around", s.fault_around},
                   {"refills", s.refills},
                   {"frames_released", s.frames_released},
                   {"release_calls", s.release_calls},
                   {"window_remaps", s.window_remaps},
                   {"hot_reuses", s.hot_reuses},
                   {"swapped_bytes", s.swapped_pages * gmm::kPageSize},
                   {"swap_in", s.swap_in},
                   {"swap_out", s.swap_out},
                   {"ballooned_frames", s.ballooned_frames},
                   {"parked_faults", s.parked_faults},
                   {"throttled_faults", s.throttled_faults}};
  }
  if (i.memcg) {
    const gmm::memcg::MemcgSnapshot& n = *i.memcg;
    o["memcg"] = {{"path", n.path},
                  {"current", n.current * gmm::kPageSize},
                  {"peak", n.peak * gmm::kPageSize},
                  {"max", memcg_limit_json(n.settings.max)},
                  {"high", memcg_limit_json(n.settings.high)},
                  {"swap_current", n.swap_current * gmm::kPageSize},
                  {"swap_max", memcg_limit_json(n.settings.swap_max)}};
  }
  if (i.balloon) {
    o["balloon"] = balloon_json(*i.balloon, i.memory ? i.memory->resident_frames * gmm::kPageSize : 0,
                                i.balloon_queue_faults);
    if (i.balloon_auto) o["balloon"].as_object()["auto"] = balloon_auto_json(*i.balloon_auto);
  }
  const char* kinds[] = {"stdio", "pty", "file", "null"};
  json::object console{{"kind", kinds[static_cast<int>(c.console.kind)]}, {"bytes", i.console_bytes}};
  if (!c.console.path.empty()) console["path"] = c.console.path;
  o["console"] = std::move(console);
  if (!c.warnings.empty()) {
    json::array w;
    for (const auto& s : c.warnings) w.emplace_back(s);
    o["warnings"] = std::move(w);
  }
  return o;
}

json::object pool_json(const gmm::PoolStats& p) {
  auto bytes = [](uint64_t frames) { return frames * gmm::kPageSize; };
  return {{"total_bytes", bytes(p.total_frames)},     {"free_bytes", bytes(p.free_frames)},
          {"cached_bytes", bytes(p.cached_frames)},   {"hot_bytes", bytes(p.hot_frames)},
          {"scrubbing_bytes", bytes(p.scrubbing_frames)}, {"used_bytes", bytes(p.used_frames)},
          {"host_resident_bytes", p.resident_bytes},  {"scrubbed_frames", p.scrubbed_frames},
          {"punch_calls", p.punch_calls},             {"guests", p.guests}};
}

HttpResponse json_ok(const boost::json::value& v, unsigned status) {
  return HttpResponse{status, "application/json", boost::json::serialize(v)};
}

HttpResponse error_response(const Error& e) { return json_error(http_status_for(e), e.message()); }

unsigned http_status_for(const Error& e) {
  if (e.code == std::errc::no_such_file_or_directory) return 404;
  if (e.code == std::errc::file_exists || e.code == std::errc::operation_not_permitted ||
      e.code == std::errc::device_or_resource_busy) {
    return 409;
  }
  if (e.code == std::errc::invalid_argument || e.code == std::errc::argument_list_too_long) return 400;
  if (e.code == std::errc::too_many_files_open) return 429;
  if (e.code == std::errc::not_supported || e.code == std::errc::operation_not_supported) return 501;
  return 500;
}

}  // namespace tide::vmm::api
