#include "vmm/cli/memcg_ctl.hpp"

#include <boost/json/serialize.hpp>

#include <cctype>
#include <cstdlib>
#include <set>

#include "guestmm/base/log.hpp"
#include "vmm/cli/size.hpp"

namespace tide::vmm {
namespace json = boost::json;

const char* const kMemcgCtlUsage =
    "memcg [NAME [get] | NAME set KEY=VALUE... | NAME reset-peak] | memcg-group create|remove PATH";

namespace {

Error usage(const std::string& what) {
  return make_error(std::errc::invalid_argument, what + " (usage: tide ctl " + kMemcgCtlUsage + ")");
}

std::string target_of(const std::string& name) { return "/api/v1/memcg/" + url_encode(name); }

uint64_t u64(const json::object& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end()) return 0;
  if (it->value().is_uint64()) return it->value().as_uint64();
  if (it->value().is_int64() && it->value().as_int64() >= 0) return static_cast<uint64_t>(it->value().as_int64());
  return 0;
}

std::string str(const json::object& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}

const json::object& obj(const json::object& o, const char* k) {
  static const json::object kEmpty;
  auto it = o.find(k);
  return it != o.end() && it->value().is_object() ? it->value().as_object() : kEmpty;
}

// A value as a cgroup file shows it: "max", or the number.
std::string raw(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_bool()) return v.as_bool() ? "yes" : "no";
  return json::serialize(v);
}

// A limit for people: "max" or "512 MiB".
std::string readable_limit(const json::object& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end()) return "?";
  if (it->value().is_string()) return std::string(it->value().as_string());
  return format_size(u64(o, k));
}

}  // namespace

std::string url_encode(const std::string& text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += log::strf("%%%02X", u);
    }
  }
  return out;
}

Result<MemcgCtlRequest> memcg_ctl_request(const std::string& verb, const std::vector<std::string>& args) {
  MemcgCtlRequest r;
  if (verb == "memcg-group") {
    if (args.size() != 2 || (args[0] != "create" && args[0] != "remove")) {
      return usage("memcg-group takes create PATH or remove PATH");
    }
    if (args[0] == "create") {
      r.method = "POST";
      r.target = "/api/v1/memcg";
      r.body = json::serialize(json::object{{"path", args[1]}});
      r.answer = MemcgCtlRequest::Answer::node;
    } else {
      r.method = "DELETE";
      r.target = target_of(args[1]);
      r.answer = MemcgCtlRequest::Answer::removed;
    }
    return r;
  }
  if (verb != "memcg") return usage("unknown command '" + verb + "'");
  if (args.empty()) {
    r.method = "GET";
    r.target = "/api/v1/memcg";
    r.answer = MemcgCtlRequest::Answer::list;
    return r;
  }
  const std::string& name = args[0];
  const std::string action = args.size() > 1 ? args[1] : "get";
  r.target = target_of(name);
  if (action == "get") {
    if (args.size() > 2) return usage("memcg NAME get takes nothing more");
    r.method = "GET";
    return r;
  }
  if (action == "reset-peak") {
    if (args.size() > 2) return usage("memcg NAME reset-peak takes nothing more");
    r.method = "PUT";
    r.body = json::serialize(json::object{{"reset_peak", true}});
    return r;
  }
  if (action != "set") return usage("unknown memcg action '" + action + "' (get, set, reset-peak)");
  if (args.size() < 3) return usage("memcg NAME set needs at least one KEY=VALUE");
  json::object body;
  std::set<std::string> seen;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& kv = args[i];
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return usage("'" + kv + "' is not KEY=VALUE");
    std::string key = kv.substr(0, eq);
    const std::string value = kv.substr(eq + 1);
    if (key == "swap_max") key = "swap.max";
    if (!seen.insert(key).second) return usage("'" + key + "' is given twice");
    if (value.empty()) return usage("'" + key + "' has no value");
    if (key == "max" || key == "high" || key == "low" || key == "min") {
      body[key] = value;
    } else if (key == "swap.max") {
      body["swap_max"] = value;
    } else if (key == "oom_policy") {
      body["oom_policy"] = value;
    } else if (key == "swappiness") {
      char* end = nullptr;
      const unsigned long n = std::strtoul(value.c_str(), &end, 10);
      if (*end != '\0' || value[0] == '-' || n > 200) return usage("swappiness=" + value + ": give a number from 0 to 200");
      body["swappiness"] = n;
    } else {
      return usage("unknown key '" + key + "' (max, high, low, min, swap.max, oom_policy, swappiness)");
    }
  }
  r.method = "PUT";
  r.body = json::serialize(body);
  return r;
}

std::string format_memcg_list(const json::object& answer) {
  std::string out = log::strf("%-32s %-6s %12s %12s %12s %12s\n", "PATH", "KIND", "CURRENT", "MAX", "SWAP", "SWAP.MAX");
  auto it = answer.find("nodes");
  if (it == answer.end() || !it->value().is_array()) return out;
  for (const auto& v : it->value().as_array()) {
    if (!v.is_object()) continue;
    const json::object& n = v.as_object();
    const json::object& s = obj(n, "settings");
    out += log::strf("%-32s %-6s %12s %12s %12s %12s\n", str(n, "path").c_str(), str(n, "kind").c_str(),
                     format_size(u64(n, "current")).c_str(), readable_limit(s, "max").c_str(),
                     format_size(u64(n, "swap_current")).c_str(), readable_limit(s, "swap_max").c_str());
  }
  return out;
}

std::string format_memcg_node(const json::object& n) {
  std::string out;
  auto line = [&](const std::string& key, const std::string& value) { out += key + " " + value + "\n"; };
  line("path", str(n, "path"));
  line("kind", str(n, "kind"));
  const json::object& s = obj(n, "settings");
  auto setting = [&](const char* key) {
    auto it = s.find(key);
    return it == s.end() ? std::string("?") : raw(it->value());
  };
  line("memory.current", std::to_string(u64(n, "current")));
  line("memory.peak", std::to_string(u64(n, "peak")));
  for (const char* k : {"min", "low", "high", "max"}) line(std::string("memory.") + k, setting(k));
  line("memory.swap.current", std::to_string(u64(n, "swap_current")));
  line("memory.swap.peak", std::to_string(u64(n, "swap_peak")));
  line("memory.swap.max", setting("swap_max"));
  for (const char* set : {"events", "events_local"}) {
    const std::string file = std::string("memory.") + (std::string(set) == "events" ? "events" : "events.local");
    for (const auto& kv : obj(n, set)) {
      const std::string name(kv.key());
      if (name.rfind("swap.", 0) == 0) continue;  // memory.swap.events below
      line(file + " " + name, raw(kv.value()));
    }
  }
  for (const auto& kv : obj(n, "events")) {
    const std::string name(kv.key());
    if (name.rfind("swap.", 0) == 0) line("memory.swap.events " + name.substr(5), raw(kv.value()));
  }
  for (const auto& kv : obj(n, "stat")) line("memory.stat " + std::string(kv.key()), raw(kv.value()));
  auto g = n.find("guest");
  if (g == n.end() || !g->value().is_object()) return out;
  const json::object& r = g->value().as_object();
  line("oom_policy", str(r, "oom_policy"));
  line("swappiness", std::to_string(u64(r, "swappiness")));
  line("stalled", r.contains("stalled") ? raw(r.at("stalled")) : "?");
  for (const char* k : {"parked_faults", "throttled_faults", "sampled_faults", "resident", "swapped", "swap_in",
                        "swap_out", "ballooned"}) {
    line(k, std::to_string(u64(r, k)));
  }
  const json::object& w = obj(r, "swap");
  line("swap.file", log::strf("%s (%s%s) size %llu used %llu", str(w, "directory").c_str(),
                              w.contains("created") && w.at("created").as_bool() ? "created" : "not created yet",
                              w.contains("direct_io") && w.at("direct_io").as_bool() ? ", direct I/O" : "",
                              static_cast<unsigned long long>(u64(w, "size")),
                              static_cast<unsigned long long>(u64(w, "used"))));
  for (const char* k : {"pages_out", "pages_in", "full", "write_errors", "read_errors"}) {
    line(std::string("swap.") + k, std::to_string(u64(w, k)));
  }
  for (const auto& kv : obj(r, "lru")) line("lru." + std::string(kv.key()), raw(kv.value()));
  for (const auto& kv : obj(r, "sampler")) line("sampler." + std::string(kv.key()), raw(kv.value()));
  return out;
}

std::string format_guest_memcg(const json::object& info) {
  auto it = info.find("memcg");
  if (it == info.end() || !it->value().is_object()) return "";
  const json::object& m = it->value().as_object();
  std::string out = log::strf("memcg:     %s: current %s (peak %s), max %s, high %s\n", str(m, "path").c_str(),
                              format_size(u64(m, "current")).c_str(), format_size(u64(m, "peak")).c_str(),
                              readable_limit(m, "max").c_str(), readable_limit(m, "high").c_str());
  out += log::strf("swap:      %s in swap, swap.max %s", format_size(u64(m, "swap_current")).c_str(),
                   readable_limit(m, "swap_max").c_str());
  auto mem = info.find("memory");
  if (mem != info.end() && mem->value().is_object()) {
    const json::object& s = mem->value().as_object();
    out += log::strf(" (%llu pages out, %llu in)", static_cast<unsigned long long>(u64(s, "swap_out")),
                     static_cast<unsigned long long>(u64(s, "swap_in")));
  }
  return out + "\n";
}

}  // namespace tide::vmm
