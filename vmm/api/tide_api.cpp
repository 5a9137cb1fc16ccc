#include "vmm/api/tide_api.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "guestmm/base/log.hpp"
#include "vmm/api/balloon_json.hpp"
#include "vmm/api/guest_json.hpp"
#include "vmm/api/memcg_api.hpp"
#include "vmm/config/domain_xml.hpp"
#include "vmm/kvm/host_kind.hpp"

namespace tide::vmm::api {
namespace json = boost::json;
namespace {

// Splits "/api/v1/guests/g1/boot?x=1" into {"guests","g1","boot"} and the query.
std::vector<std::string> path_parts(const std::string& target, std::string* query) {
  std::string path = target;
  if (auto q = path.find('?'); q != std::string::npos) {
    *query = path.substr(q + 1);
    path.resize(q);
  }
  const std::string prefix = "/api/v1/";
  std::vector<std::string> parts;
  if (path.compare(0, prefix.size(), prefix) != 0) return parts;
  size_t at = prefix.size();
  while (at <= path.size()) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    if (end > at) parts.push_back(path.substr(at, end - at));
    at = end + 1;
  }
  return parts;
}

uint64_t query_u64(const std::string& query, const std::string& key) {
  size_t at = query.find(key + "=");
  if (at == std::string::npos) return 0;
  return std::strtoull(query.c_str() + at + key.size() + 1, nullptr, 10);
}

bool looks_like_xml(const HttpRequest& r) {
  if (r.header("content-type").find("xml") != std::string::npos) return true;
  for (char c : r.body) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '<';
  }
  return false;
}

HttpResponse guest_answer(GuestManager& g, const std::string& name, Status st, unsigned ok_status = 200) {
  if (!st) return error_response(st.error());
  auto info = g.info(name);
  if (!info) return error_response(info.error());
  return json_ok(guest_info_json(*info), ok_status);
}

// GET: the balloon's status, counters and the guest's statistics. PUT/POST {"size": S} or
// {"current_memory": S}: moves the target (or, for a guest that is not running, its
// definition's current memory); answers like GET.
HttpResponse serve_balloon(GuestManager& g, const std::string& name, const HttpRequest& r) {
  auto info = g.info(name);
  if (!info) return error_response(info.error());
  if (r.method == "PUT" || r.method == "POST") {
    auto req = balloon_request_from_json(r.body, info->config.memory_bytes);
    if (!req) return json_error(400, req.error().message());
    if (req->size) {
      if (auto set = g.set_balloon(name, *req->size); !set) return error_response(set.error());
    } else if (auto st = g.set_balloon_auto(name, req->auto_options); !st) {
      return error_response(st.error());
    }
    info = g.info(name);
    if (!info) return error_response(info.error());
  } else if (r.method != "GET") {
    return json_error(405, "method " + r.method + " is not allowed on " + r.target);
  }
  if (!info->balloon) {
    const uint64_t memory = info->config.memory_bytes;
    const uint64_t current = info->config.current_memory_bytes.value_or(memory);
    return json_ok(json::object{{"active", false},
                                {"state", guest_state_name(info->state)},
                                {"ram_bytes", memory},
                                {"target_bytes", memory - current},
                                {"enabled", info->config.balloon.enabled}});
  }
  const uint64_t rss = info->memory ? info->memory->resident_frames * gmm::kPageSize : 0;
  json::object o = balloon_json(*info->balloon, rss, info->balloon_queue_faults);
  o["state"] = guest_state_name(info->state);
  o["enabled"] = true;
  if (info->balloon_auto) o["auto"] = balloon_auto_json(*info->balloon_auto);
  return json_ok(o);
}

HttpResponse serve(const TideApiContext& ctx, const HttpRequest& r, bool* shutdown) {
  GuestManager& g = *ctx.guests;
  std::string query;
  const auto p = path_parts(r.target, &query);
  const std::string& m = r.method;
  auto not_allowed = [&] { return json_error(405, "method " + m + " is not allowed on " + r.target); };
  if (p.empty()) return json_error(404, "no such route: " + r.target);

  if (p[0] == "ping" && p.size() == 1) {
    if (m != "GET") return not_allowed();
    return json_ok(json::object{{"version", TIDE_VERSION},
                                {"kvm_host", g.host_kind() == HostKind::pvm ? "pvm" : "hardware"},
                                {"pid", ::getpid()}});
  }
  if (p[0] == "pool" && p.size() == 1) {
    if (m != "GET") return not_allowed();
    return json_ok(pool_json(g.pool_stats()));
  }
  if (p[0] == "audit" && p.size() == 1) {
    if (m != "GET") return not_allowed();
    if (auto st = g.audit(); !st) return json_error(500, st.error().message());
    return json_ok(json::object{{"clean", true}});
  }
  if (p[0] == "memcg") {
    MemcgControl control(g.memory(), [&g](const std::string& name, const std::function<void(gmm::GuestMm&)>& fn) {
      return g.with_guest_memory(name, fn);
    });
    // A defined guest that is not running has no node: say so rather than "no memcg".
    if (p.size() == 2) {
      const auto name = url_decode(p[1]);
      if (name && !control.resolve(*name)) {
        if (auto info = g.info(*name)) {
          return json_error(404, *name + " is " + guest_state_name(info->state) +
                                     ": its memory cgroup exists while it runs (its definition's memtune sets the "
                                     "next boot's limits)");
        }
      }
    }
    return serve_memcg(control, r, p);
  }
  if (p[0] == "host" && p.size() == 2 && p[1] == "shutdown") {
    if (m != "PUT" && m != "POST") return not_allowed();
    *shutdown = true;
    return HttpResponse{204, "application/json", ""};
  }
  if (p[0] != "guests") return json_error(404, "no such route: " + r.target);

  if (p.size() == 1) {
    if (m == "GET") {
      json::array a;
      for (const GuestInfo& i : g.list()) a.push_back(guest_info_json(i));
      return json_ok(json::object{{"guests", std::move(a)}});
    }
    if (m != "POST" && m != "PUT") return not_allowed();
    auto config = looks_like_xml(r) ? parse_domain_xml(r.body) : guest_config_from_json(r.body);
    if (!config) return json_error(400, config.error().message());
    auto info = g.define(std::move(*config));
    if (!info) return error_response(info.error());
    return json_ok(guest_info_json(*info), 201);
  }
  const std::string& name = p[1];
  if (p.size() == 2) {
    if (m == "GET") {
      auto info = g.info(name);
      if (!info) return error_response(info.error());
      return json_ok(guest_info_json(*info));
    }
    if (m == "DELETE") {
      if (auto st = g.remove(name); !st) return error_response(st.error());
      return HttpResponse{204, "application/json", ""};
    }
    return not_allowed();
  }
  if (p.size() != 3) return json_error(404, "no such route: " + r.target);
  const std::string& verb = p[2];
  if (verb == "console") {
    if (m != "GET") return not_allowed();
    uint64_t next = 0;
    auto text = g.console(name, query_u64(query, "from"), &next);
    if (!text) return error_response(text.error());
    return json_ok(json::object{{"text", *text}, {"next", next}});
  }
  if (verb == "balloon") return serve_balloon(g, name, r);
  if (m != "PUT" && m != "POST") return not_allowed();
  if (verb == "boot") return guest_answer(g, name, g.boot(name));
  if (verb == "pause") return guest_answer(g, name, g.pause(name));
  if (verb == "resume") return guest_answer(g, name, g.resume(name));
  if (verb == "reboot") return guest_answer(g, name, g.reboot(name));
  if (verb == "shutdown") {
    std::string mode = "force";
    if (!r.body.empty()) {
      boost::system::error_code ec;
      json::value v = json::parse(r.body, ec);
      if (ec || !v.is_object()) return json_error(400, "the body must be {\"mode\": \"force\"|\"reset\"}");
      for (const auto& kv : v.as_object()) {
        if (kv.key() != "mode" || !kv.value().is_string()) return json_error(400, "the body must be {\"mode\": \"force\"|\"reset\"}");
        mode = std::string(kv.value().as_string());
      }
    }
    if (mode == "force") return guest_answer(g, name, g.stop(name));
    if (mode == "reset") return guest_answer(g, name, g.reboot(name));
    return json_error(400, "shutdown mode '" + mode + "' is not force or reset");
  }
  return json_error(404, "no such route: " + r.target);
}

}  // namespace

HttpHandler make_tide_api(TideApiContext context) {
  return [ctx = std::move(context)](HttpRequest request, Responder respond) {
    std::string query;
    const auto p = path_parts(request.target, &query);
    const bool blocks = !p.empty() && p[0] == "memcg" && memcg_request_may_block(request);
    EventLoop* loop = blocks && ctx.work != nullptr ? ctx.work : ctx.control;
    boost::asio::post(loop->context(), [ctx, request = std::move(request), respond = std::move(respond)] {
      bool shutdown = false;
      HttpResponse response = serve(ctx, request, &shutdown);
      respond(std::move(response));
      if (shutdown && ctx.shutdown) ctx.shutdown();
    });
  };
}

}  // namespace tide::vmm::api
