#include "vmm/cli/ctl_command.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include "guestmm/base/log.hpp"
#include "vmm/api/http.hpp"
#include "vmm/cli/memcg_ctl.hpp"
#include "vmm/cli/size.hpp"

namespace tide::vmm {
namespace json = boost::json;

const char* const kCtlHelp =
    "usage: tide ctl [--api-socket PATH] [--json] COMMAND [ARGS]\n"
    "\n"
    "Talks to `tide host` over its Unix socket (default: $TIDE_API_SOCKET).\n"
    "\n"
    "commands:\n"
    "  ping                     the daemon's version and kind of KVM host\n"
    "  list                     every guest: name, state, vCPUs, memory, resident memory\n"
    "  info NAME                one guest in detail\n"
    "  define FILE              define a guest from libvirt domain XML or tide JSON ('-': stdin)\n"
    "  create FILE              define and boot\n"
    "  boot NAME | pause NAME | resume NAME | reboot NAME\n"
    "  shutdown NAME [--reset]  stop it now (--reset: stop and boot it again)\n"
    "  delete NAME              stop it if needed and forget it\n"
    "  console NAME             what the guest wrote to its console so far\n"
    "  balloon NAME [SIZE [--wait]]  the balloon: target, actual, the guest's statistics and\n"
    "                           tide's counters; with SIZE, set the balloon to SIZE (e.g.\n"
    "                           768M: the guest keeps memory - SIZE)\n"
    "  balloon NAME auto [MARGIN] | manual  auto mode: tide sizes the balloon so the\n"
    "                           guest keeps about MARGIN (default 256M) available\n"
    "  setmem NAME SIZE [--wait]  the guest keeps SIZE (balloon = memory - SIZE; virsh\n"
    "                           setmem); --wait: until the guest's driver got there\n"
    "  dommemstat NAME          the guest's statistics under virsh dommemstat's names\n"
    "  memcg                    every memory cgroup: path, kind, current, max, swap\n"
    "  memcg NAME [get]         one memory cgroup (a guest, a group's name, or a path such\n"
    "                           as /tenant) as cgroup v2's files read, then tide's own\n"
    "                           figures (OOM policy, swappiness, swap file, LRU)\n"
    "  memcg NAME set KEY=VALUE...  max, high, low, min, swap.max (e.g. 512M, or max),\n"
    "                           oom_policy (stall|stop), swappiness (0..200); lowering max\n"
    "                           reclaims now, and fails with the old max kept if it cannot\n"
    "  memcg NAME reset-peak    memory.peak (and swap's) back to current\n"
    "  memcg-group create PATH | memcg-group remove PATH  a group (its missing parents\n"
    "                           too), or an empty one gone\n"
    "  pool                     the frame pool's figures\n"
    "  audit                    run the memory manager's audit\n"
    "  host-shutdown            stop every guest and the daemon\n"
    "\n"
    "options:\n"
    "  --api-socket PATH  the daemon's socket\n"
    "  --json             print the API's JSON instead of text\n";

namespace {

struct Ctl {
  std::string socket;
  bool json = false;
};

int fail(const std::string& m) {
  std::fprintf(stderr, "tide ctl: error: %s\n", m.c_str());
  return 1;
}

std::string mib(uint64_t bytes) { return format_size(bytes); }

// One API call. On success returns the parsed body (null for 204); on failure prints one
// line and returns nullopt.
std::optional<json::value> call(const Ctl& c, const std::string& method, const std::string& target,
                                const std::string& body = {}, const std::string& type = "application/json") {
  auto r = api::http_request(c.socket, method, target, body, type);
  if (!r) {
    fail(r.error().message());
    return std::nullopt;
  }
  json::value v;
  if (!r->body.empty()) {
    boost::system::error_code ec;
    v = json::parse(r->body, ec);
    if (ec) {
      fail("the daemon sent something that is not JSON (HTTP " + std::to_string(r->status) + ")");
      return std::nullopt;
    }
  }
  if (r->status >= 300) {
    std::string msg = "HTTP " + std::to_string(r->status);
    if (v.is_object() && v.as_object().contains("error") && v.as_object().at("error").is_string()) {
      msg = std::string(v.as_object().at("error").as_string());
    }
    fail(msg);
    return std::nullopt;
  }
  return v;
}

uint64_t u64(const json::object& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end()) return 0;
  if (it->value().is_uint64()) return it->value().as_uint64();
  if (it->value().is_int64()) return static_cast<uint64_t>(it->value().as_int64());
  return 0;
}
std::string str(const json::object& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}

void print_info(const json::object& g) {
  std::printf("name:      %s\n", str(g, "name").c_str());
  std::printf("state:     %s\n", str(g, "state").c_str());
  std::printf("vcpus:     %llu\n", static_cast<unsigned long long>(u64(g, "vcpus")));
  std::printf("memory:    %s\n", mib(u64(g, "memory_bytes")).c_str());
  std::printf("kernel:    %s\n", str(g, "kernel").c_str());
  std::printf("cmdline:   %s\n", str(g, "cmdline").c_str());
  std::printf("boots:     %llu\n", static_cast<unsigned long long>(u64(g, "boots")));
  if (auto it = g.find("memory"); it != g.end() && it->value().is_object()) {
    const json::object& m = it->value().as_object();
    std::printf("resident:  %s (faults %llu, fault-around %llu, released %llu frames)\n",
                mib(u64(m, "resident_bytes")).c_str(), static_cast<unsigned long long>(u64(m, "faults")),
                static_cast<unsigned long long>(u64(m, "fault_around")),
                static_cast<unsigned long long>(u64(m, "frames_released")));
  }
  std::fputs(format_guest_memcg(g).c_str(), stdout);
  if (auto it = g.find("last_exit"); it != g.end() && it->value().is_object()) {
    const json::object& e = it->value().as_object();
    std::printf("last exit: %s, status %lld (%s)\n", str(e, "kind").c_str(),
                static_cast<long long>(e.at("status").is_int64() ? e.at("status").as_int64() : 0), str(e, "message").c_str());
  }
  if (auto it = g.find("console"); it != g.end() && it->value().is_object()) {
    const json::object& c = it->value().as_object();
    std::printf("console:   %s%s%s (%llu bytes)\n", str(c, "kind").c_str(), str(c, "path").empty() ? "" : " ",
                str(c, "path").c_str(), static_cast<unsigned long long>(u64(c, "bytes")));
  }
  if (auto it = g.find("warnings"); it != g.end() && it->value().is_array()) {
    for (const auto& w : it->value().as_array()) {
      if (w.is_string()) std::printf("warning:   %s\n", std::string(w.as_string()).c_str());
    }
  }
}

void print_dommemstat(const json::object& stats) {
  static const char* const kOrder[] = {"actual", "swap_in", "swap_out", "major_fault", "minor_fault", "unused",
                                       "available", "usable", "last_update", "disk_caches", "hugetlb_pgalloc",
                                       "hugetlb_pgfail", "rss"};
  for (const char* k : kOrder) {
    if (stats.contains(k)) std::printf("%s %llu\n", k, static_cast<unsigned long long>(u64(stats, k)));
  }
}

void print_balloon(const json::object& b) {
  std::printf("state:     %s\n", str(b, "state").c_str());
  if (!b.contains("stats")) {
    if (!b.at("enabled").as_bool()) std::printf("balloon:   none (memballoon model='none')\n");
    else std::printf("balloon:   %s at the next boot\n", mib(u64(b, "target_bytes")).c_str());
    return;
  }
  const uint64_t ram = u64(b, "ram_bytes"), actual = u64(b, "actual_bytes");
  std::printf("balloon:   target %s, actual %s (the guest keeps %s of %s)\n", mib(u64(b, "target_bytes")).c_str(),
              mib(actual).c_str(), mib(ram - std::min(ram, actual)).c_str(), mib(ram).c_str());
  std::string features;
  for (const auto& f : b.at("features").as_array()) features += (features.empty() ? "" : " ") + std::string(f.as_string());
  std::printf("features:  %s%s\n", features.empty() ? "(none negotiated)" : features.c_str(),
              b.at("active").as_bool() ? "" : " (driver not active)");
  const json::object& c = b.at("counters").as_object();
  auto n = [&](const char* k) { return static_cast<unsigned long long>(u64(c, k)); };
  std::printf("pages:     inflated %llu, deflated %llu (migrated %llu, oom %llu), reported %llu, asked by memory "
              "pressure %llu\n",
              n("inflated_pages"), n("deflated_pages"), n("migrated_pages"), n("oom_deflated_pages"), n("reported_pages"),
              n("pressure_asked_pages"));
  double ns = c.contains("inflate_ns_per_page") && c.at("inflate_ns_per_page").is_double()
                  ? c.at("inflate_ns_per_page").as_double() : 0.0;
  double cpu = c.contains("inflate_cpu_ns_per_page") && c.at("inflate_cpu_ns_per_page").is_double()
                   ? c.at("inflate_cpu_ns_per_page").as_double() : 0.0;
  std::printf("host:      %s released, inflate cost %.1f ns/page of CPU (%.1f ns/page elapsed), bad requests %llu\n",
              mib(u64(c, "host_bytes_released")).c_str(), cpu, ns, n("bad_requests"));
  if (auto it = c.find("faults"); it != c.end() && it->value().is_object()) {
    for (const auto& kv : it->value().as_object()) {
      std::printf("bad input: %s %llu\n", std::string(kv.key()).c_str(),
                  static_cast<unsigned long long>(kv.value().is_uint64() ? kv.value().as_uint64() : 0));
    }
  }
  if (auto it = b.find("auto"); it != b.end() && it->value().is_object()) {
    const json::object& a = it->value().as_object();
    if (a.at("enabled").as_bool()) {
      std::printf("auto:      on, margin %s, min guest %s, step %s; %llu decisions, %llu moves%s%s\n",
                  mib(u64(a, "margin_bytes")).c_str(), mib(u64(a, "min_guest_bytes")).c_str(),
                  mib(u64(a, "max_step_bytes")).c_str(), static_cast<unsigned long long>(u64(a, "decisions")),
                  static_cast<unsigned long long>(u64(a, "target_changes")), a.contains("last_reason") ? "; last: " : "",
                  str(a, "last_reason").c_str());
    } else {
      std::printf("auto:      off\n");
    }
  }
  std::printf("stats (dommemstat names):\n");
  print_dommemstat(b.at("stats").as_object());
}

int print(const Ctl& c, const json::value& v, void (*human)(const json::value&)) {
  if (c.json) std::printf("%s\n", json::serialize(v).c_str());
  else human(v);
  return 0;
}

Result<std::string> read_all(const std::string& path) {
  std::ostringstream s;
  if (path == "-") {
    s << std::cin.rdbuf();
  } else {
    std::ifstream f(path, std::ios::binary);
    if (!f) return errno_error("read " + path);
    s << f.rdbuf();
  }
  return s.str();
}

}  // namespace

int ctl_command(const std::vector<std::string>& argv) {
  Ctl c;
  if (const char* env = std::getenv("TIDE_API_SOCKET")) c.socket = env;
  std::vector<std::string> rest;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (rest.empty() && a == "--api-socket") {
      if (i + 1 >= argv.size()) return fail("option --api-socket needs a value");
      c.socket = argv[++i];
    } else if (rest.empty() && a.rfind("--api-socket=", 0) == 0) {
      c.socket = a.substr(13);
    } else if (rest.empty() && a == "--json") {
      c.json = true;
    } else if (rest.empty() && (a == "--help" || a == "-h")) {
      std::fputs(kCtlHelp, stdout);
      return 0;
    } else if (rest.empty() && a.rfind("--", 0) == 0) {
      return fail("unknown option " + a + " (see tide ctl --help)");
    } else {
      rest.push_back(a);
    }
  }
  if (rest.empty()) return fail("no command (see tide ctl --help)");
  if (c.socket.empty()) return fail("no daemon socket: give --api-socket PATH or set $TIDE_API_SOCKET");
  const std::string verb = rest[0];
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  auto need = [&](size_t n, const char* usage) -> bool {
    if (args.size() == n) return true;
    fail(std::string("usage: tide ctl ") + usage);
    return false;
  };
  const std::string base = "/api/v1/";

  if (verb == "ping") {
    if (!need(0, "ping")) return 1;
    auto v = call(c, "GET", base + "ping");
    if (!v) return 1;
    return print(c, *v, [](const json::value& x) {
      const auto& o = x.as_object();
      std::printf("tide %s on a %s KVM host (pid %llu)\n", str(o, "version").c_str(), str(o, "kvm_host").c_str(),
                  static_cast<unsigned long long>(u64(o, "pid")));
    });
  }
  if (verb == "list") {
    if (!need(0, "list")) return 1;
    auto v = call(c, "GET", base + "guests");
    if (!v) return 1;
    return print(c, *v, [](const json::value& x) {
      std::printf("%-20s %-9s %5s %10s %10s %6s\n", "NAME", "STATE", "VCPUS", "MEMORY", "RESIDENT", "BOOTS");
      for (const auto& g : x.as_object().at("guests").as_array()) {
        const auto& o = g.as_object();
        uint64_t resident = 0;
        if (auto it = o.find("memory"); it != o.end() && it->value().is_object()) resident = u64(it->value().as_object(), "resident_bytes");
        std::printf("%-20s %-9s %5llu %10s %10s %6llu\n", str(o, "name").c_str(), str(o, "state").c_str(),
                    static_cast<unsigned long long>(u64(o, "vcpus")), mib(u64(o, "memory_bytes")).c_str(),
                    mib(resident).c_str(), static_cast<unsigned long long>(u64(o, "boots")));
      }
    });
  }
  if (verb == "info") {
    if (!need(1, "info NAME")) return 1;
    auto v = call(c, "GET", base + "guests/" + args[0]);
    if (!v) return 1;
    return print(c, *v, [](const json::value& x) { print_info(x.as_object()); });
  }
  if (verb == "define" || verb == "create") {
    if (!need(1, (verb + " FILE").c_str())) return 1;
    auto text = read_all(args[0]);
    if (!text) return fail(text.error().message());
    bool xml = text->find_first_not_of(" \t\r\n") != std::string::npos && (*text)[text->find_first_not_of(" \t\r\n")] == '<';
    auto v = call(c, "POST", base + "guests", *text, xml ? "application/xml" : "application/json");
    if (!v) return 1;
    if (verb == "create") {
      v = call(c, "PUT", base + "guests/" + str(v->as_object(), "name") + "/boot");
      if (!v) return 1;
    }
    return print(c, *v, [](const json::value& x) {
      const auto& o = x.as_object();
      std::printf("%s: %s\n", str(o, "name").c_str(), str(o, "state").c_str());
      if (auto it = o.find("warnings"); it != o.end() && it->value().is_array()) {
        for (const auto& w : it->value().as_array()) std::printf("warning: %s\n", std::string(w.as_string()).c_str());
      }
    });
  }
  if (verb == "boot" || verb == "pause" || verb == "resume" || verb == "reboot" || verb == "shutdown") {
    bool reset = verb == "shutdown" && !args.empty() && args.back() == "--reset";
    if (reset) args.pop_back();
    if (!need(1, (verb + " NAME" + (verb == "shutdown" ? " [--reset]" : "")).c_str())) return 1;
    std::string body = verb == "shutdown" ? (reset ? "{\"mode\":\"reset\"}" : "{\"mode\":\"force\"}") : "";
    auto v = call(c, "PUT", base + "guests/" + args[0] + "/" + verb, body);
    if (!v) return 1;
    return print(c, *v, [](const json::value& x) {
      const auto& o = x.as_object();
      std::printf("%s: %s\n", str(o, "name").c_str(), str(o, "state").c_str());
    });
  }
  if (verb == "delete") {
    if (!need(1, "delete NAME")) return 1;
    if (!call(c, "DELETE", base + "guests/" + args[0])) return 1;
    if (c.json) std::printf("{}\n");
    else std::printf("%s: deleted\n", args[0].c_str());
    return 0;
  }
  if (verb == "console") {
    if (!need(1, "console NAME")) return 1;
    auto v = call(c, "GET", base + "guests/" + args[0] + "/console");
    if (!v) return 1;
    return print(c, *v, [](const json::value& x) { std::fputs(str(x.as_object(), "text").c_str(), stdout); });
  }
  if (verb == "balloon" || verb == "setmem" || verb == "dommemstat") {
    // --wait: after setting, poll until the driver's `actual` is the target (at most 120 s).
    bool wait = false;
    if (!args.empty() && args.back() == "--wait" && verb != "dommemstat") {
      wait = true;
      args.pop_back();
    }
    // balloon NAME auto [MARGIN] | balloon NAME manual: auto mode on/off.
    if (verb == "balloon" && args.size() >= 2 && (args[1] == "auto" || args[1] == "manual")) {
      if (wait || args.size() > (args[1] == "auto" ? 3u : 2u)) return fail("usage: tide ctl balloon NAME auto [MARGIN] | manual");
      json::value body = json::object{{"auto", false}};
      if (args[1] == "auto") {
        json::object a;
        if (args.size() == 3) {
          auto bytes = parse_size(args[2]);
          if (!bytes) return fail("balloon auto: " + bytes.error().message());
          a["margin"] = *bytes;
        }
        body = json::object{{"auto", a}};
      }
      auto v = call(c, "PUT", base + "guests/" + args[0] + "/balloon", json::serialize(body));
      if (!v) return 1;
      return print(c, *v, [](const json::value& x) { print_balloon(x.as_object()); });
    }
    const bool set = verb == "setmem" || (verb == "balloon" && args.size() == 2);
    const char* usage = verb == "setmem" ? "setmem NAME SIZE" : verb == "dommemstat" ? "dommemstat NAME" : "balloon NAME [SIZE]";
    if (!need(set ? 2 : 1, usage)) return 1;
    std::optional<json::value> v;
    if (set) {
      auto bytes = parse_size(args[1]);
      if (!bytes) return fail(verb + ": " + bytes.error().message());
      const std::string key = verb == "setmem" ? "current_memory" : "size";
      v = call(c, "PUT", base + "guests/" + args[0] + "/balloon", json::serialize(json::object{{key, *bytes}}));
    } else {
      v = call(c, "GET", base + "guests/" + args[0] + "/balloon");
    }
    if (!v) return 1;
    if (wait) {
      const auto start = std::chrono::steady_clock::now();
      for (;;) {
        const json::object& o = v->as_object();
        if (!o.contains("stats")) return fail(args[0] + " is not running with a balloon device (nothing to wait for)");
        if (u64(o, "actual_bytes") == u64(o, "target_bytes")) break;
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(120)) {
          return fail(log::strf("%s: the balloon did not reach its target within 120 s (actual %s, target %s)",
                                args[0].c_str(), mib(u64(o, "actual_bytes")).c_str(), mib(u64(o, "target_bytes")).c_str()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        v = call(c, "GET", base + "guests/" + args[0] + "/balloon");
        if (!v) return 1;
      }
      if (!c.json) {
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        std::printf("reached:   target in %.0f ms\n", ms);
      }
    }
    if (verb == "dommemstat") {
      const json::object& o = v->as_object();
      if (!o.contains("stats")) return fail(args[0] + " is not running with a balloon device");
      return print(c, o.at("stats"), [](const json::value& x) { print_dommemstat(x.as_object()); });
    }
    return print(c, *v, [](const json::value& x) { print_balloon(x.as_object()); });
  }
  if (verb == "memcg" || verb == "memcg-group") {
    auto req = memcg_ctl_request(verb, args);
    if (!req) return fail(req.error().message());
    auto v = call(c, req->method, req->target, req->body);
    if (!v) return 1;
    switch (req->answer) {
      case MemcgCtlRequest::Answer::list:
        return print(c, *v, [](const json::value& x) { std::fputs(format_memcg_list(x.as_object()).c_str(), stdout); });
      case MemcgCtlRequest::Answer::node:
        return print(c, *v, [](const json::value& x) { std::fputs(format_memcg_node(x.as_object()).c_str(), stdout); });
      case MemcgCtlRequest::Answer::removed:
        if (c.json) std::printf("{}\n");
        else std::printf("%s: removed\n", args[1].c_str());
        return 0;
    }
    return 0;
  }
  if (verb == "pool") {
    if (!need(0, "pool")) return 1;
    auto v = call(c, "GET", base + "pool");
    if (!v) return 1;
    return print(c, *v, [](const json::value& x) {
      const auto& o = x.as_object();
      for (const char* k : {"total_bytes", "free_bytes", "cached_bytes", "hot_bytes", "scrubbing_bytes", "used_bytes",
                            "host_resident_bytes"}) {
        std::string label(k);
        label.resize(label.size() - 6);
        std::printf("%-14s %s\n", (label + ":").c_str(), mib(u64(o, k)).c_str());
      }
      std::printf("%-14s %llu\n", "guests:", static_cast<unsigned long long>(u64(o, "guests")));
    });
  }
  if (verb == "audit") {
    if (!need(0, "audit")) return 1;
    auto v = call(c, "GET", base + "audit");
    if (!v) return 1;
    return print(c, *v, [](const json::value&) { std::printf("audit: clean\n"); });
  }
  if (verb == "host-shutdown") {
    if (!need(0, "host-shutdown")) return 1;
    if (!call(c, "PUT", base + "host/shutdown")) return 1;
    if (!c.json) std::printf("tide host: stopping\n");
    return 0;
  }
  return fail("unknown command '" + verb + "' (see tide ctl --help)");
}

}  // namespace tide::vmm
