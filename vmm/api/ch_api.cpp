#include "vmm/api/ch_api.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <memory>
#include <mutex>

#include "guestmm/base/log.hpp"
#include "vmm/api/balloon_json.hpp"
#include "vmm/api/ch_config.hpp"
#include "vmm/api/guest_json.hpp"

namespace tide::vmm::api {
namespace json = boost::json;
namespace {

constexpr const char* kVm = "vm";

HttpResponse no_content() { return HttpResponse{204, "application/json", ""}; }
HttpResponse json_ok(const json::value& v) { return HttpResponse{200, "application/json", json::serialize(v)}; }
HttpResponse error_response(const Error& e) { return json_error(http_status_for(e), e.message()); }
HttpResponse action(Status st) { return st ? no_content() : error_response(st.error()); }

struct ChState {
  std::mutex mutex;
  json::value created;  // the vm.create body, for vm.info
  bool defined = false;
};

HttpResponse not_created() { return json_error(409, "no VM has been created (PUT /api/v1/vm.create first)"); }

HttpResponse serve(const ChApiContext& ctx, ChState& st, const HttpRequest& r, bool* shutdown) {
  GuestManager& g = *ctx.guests;
  std::string path = r.target.substr(0, r.target.find('?'));
  const std::string prefix = "/api/v1/";
  if (path.compare(0, prefix.size(), prefix) != 0) return json_error(404, "no such route: " + r.target);
  const std::string call = path.substr(prefix.size());
  const bool get = r.method == "GET", put = r.method == "PUT" || r.method == "POST";
  auto not_allowed = [&] { return json_error(405, "method " + r.method + " is not allowed on " + r.target); };
  std::lock_guard lock(st.mutex);

  if (call == "vmm.ping") {
    if (!get) return not_allowed();
    return json_ok(json::object{{"version", kChVersion},
                                {"build_version", std::string("tide ") + TIDE_VERSION},
                                {"pid", ::getpid()},
                                {"features", json::array{}}});
  }
  if (call == "vmm.shutdown") {
    if (!put) return not_allowed();
    if (st.defined) (void)g.remove(kVm);
    st.defined = false;
    *shutdown = true;
    return no_content();
  }
  if (call == "vm.create") {
    if (!put) return not_allowed();
    if (st.defined) return json_error(409, "a VM already exists in this process (vm.delete it first)");
    json::value parsed;
    auto config = guest_config_from_ch(r.body, &parsed);
    if (!config) return json_error(400, config.error().message());
    for (const auto& w : config->warnings) log::warn("vm.create: %s", w.c_str());
    auto info = g.define(std::move(*config));
    if (!info) return error_response(info.error());
    st.created = std::move(parsed);
    st.defined = true;
    return no_content();
  }
  if (!st.defined && call.rfind("vm.", 0) == 0) return not_created();
  if (call == "vm.info") {
    if (!get) return not_allowed();
    auto info = g.info(kVm);
    if (!info) return error_response(info.error());
    return json_ok(ch_vm_info(*info, st.created));
  }
  if (call == "vm.counters") {
    if (!get) return not_allowed();
    auto info = g.info(kVm);
    if (!info) return error_response(info.error());
    json::object mem;
    if (info->memory) {
      const gmm::GuestMmStats& s = *info->memory;
      mem = {{"resident_bytes", s.resident_frames * gmm::kPageSize}, {"faults", s.faults},
             {"fault_around", s.fault_around}, {"frames_released", s.frames_released}};
    }
    json::object out{{"memory", std::move(mem)}};
    if (info->balloon) out["balloon"] = balloon_counters_json(info->balloon->counters, info->balloon_queue_faults);
    return json_ok(out);
  }
  if (call == "vm.balloon-stats") {
    if (!get) return not_allowed();
    auto info = g.info(kVm);
    if (!info) return error_response(info.error());
    if (!info->balloon) return json_error(409, "the VM is not running with a balloon device");
    const uint64_t rss = info->memory ? info->memory->resident_frames * gmm::kPageSize : 0;
    return json_ok(dommemstat_json(*info->balloon, rss));
  }
  if (!put) return call.rfind("vm.", 0) == 0 ? not_allowed() : json_error(404, "no such route: " + r.target);
  if (call == "vm.boot") return action(g.boot(kVm));
  if (call == "vm.shutdown") return action(g.stop(kVm));
  if (call == "vm.reboot") return action(g.reboot(kVm));
  if (call == "vm.pause") return action(g.pause(kVm));
  if (call == "vm.resume") return action(g.resume(kVm));
  if (call == "vm.delete") {
    auto st2 = g.remove(kVm);
    st.defined = false;
    st.created = nullptr;
    return action(st2);
  }
  if (call == "vm.resize") {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object()) return json_error(400, "vm.resize: the body must be a JSON object");
    const json::object& o = v.as_object();
    if (o.contains("desired_ram")) return json_error(501, "vm.resize: tide has no memory hotplug (desired_ram)");
    if (o.contains("desired_vcpus")) return json_error(501, "vm.resize: tide has no vCPU hotplug (desired_vcpus)");
    if (const json::value* b = o.if_contains("desired_balloon")) {
      if (o.size() != 1) return json_error(400, "vm.resize: desired_balloon cannot be combined with other fields");
      uint64_t bytes = 0;
      if (b->is_uint64()) bytes = b->as_uint64();
      else if (b->is_int64() && b->as_int64() >= 0) bytes = static_cast<uint64_t>(b->as_int64());
      else return json_error(400, "vm.resize: desired_balloon must be a number of bytes");
      auto set = g.set_balloon(kVm, bytes);
      return action(set ? ok() : Status(set.error()));
    }
    return json_error(400, "vm.resize: nothing to resize");
  }
  return json_error(404, "no such route: " + r.target);
}

}  // namespace

HttpHandler make_ch_api(ChApiContext context) {
  auto state = std::make_shared<ChState>();
  return [ctx = std::move(context), state](HttpRequest request, Responder respond) {
    boost::asio::post(ctx.control->context(), [ctx, state, request = std::move(request), respond = std::move(respond)] {
      bool shutdown = false;
      HttpResponse response = serve(ctx, *state, request, &shutdown);
      respond(std::move(response));
      if (shutdown && ctx.shutdown) ctx.shutdown();
    });
  };
}

}  // namespace tide::vmm::api
