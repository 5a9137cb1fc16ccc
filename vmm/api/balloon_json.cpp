#include "vmm/api/balloon_json.hpp"

#include <boost/json/parse.hpp>

#include <chrono>

#include "balloon/balloon_spec.hpp"
#include "guestmm/base/log.hpp"
#include "guestmm/types.hpp"
#include "vmm/api/guest_json.hpp"

namespace tide::vmm::api {
namespace json = boost::json;
using namespace tide::balloon;

namespace {

json::array feature_names(uint64_t bits) {
  json::array a;
  const std::pair<uint32_t, const char*> names[] = {{VIRTIO_BALLOON_F_MUST_TELL_HOST, "must_tell_host"},
                                                    {VIRTIO_BALLOON_F_STATS_VQ, "stats_vq"},
                                                    {VIRTIO_BALLOON_F_DEFLATE_ON_OOM, "deflate_on_oom"},
                                                    {VIRTIO_BALLOON_F_PAGE_REPORTING, "page_reporting"}};
  for (const auto& [bit, name] : names) {
    if ((bits >> bit) & 1) a.emplace_back(name);
  }
  return a;
}

// Seconds since the epoch of a monotonic timestamp (the device's clock).
uint64_t epoch_seconds(uint64_t stamp_ns) {
  const uint64_t now_mono = balloon::monotonic_ns();
  const auto now_wall = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const uint64_t age_s = now_mono > stamp_ns ? (now_mono - stamp_ns) / 1000000000ull : 0;
  return static_cast<uint64_t>(now_wall) - age_s;
}

}  // namespace

json::object dommemstat_json(const BalloonStatus& s, uint64_t rss_bytes) {
  json::object o;
  const uint64_t ram = s.ram_pages * gmm::kPageSize;
  const uint64_t balloon = s.actual_pages * gmm::kPageSize;
  o["actual"] = (ram - std::min(ram, balloon)) >> 10;  // KiB the guest has
  if (s.stats) {
    const GuestStats& g = *s.stats;
    const std::pair<uint16_t, const char*> kib[] = {
        {VIRTIO_BALLOON_S_SWAP_IN, "swap_in"},  {VIRTIO_BALLOON_S_SWAP_OUT, "swap_out"},
        {VIRTIO_BALLOON_S_MEMFREE, "unused"},   {VIRTIO_BALLOON_S_MEMTOT, "available"},
        {VIRTIO_BALLOON_S_AVAIL, "usable"},     {VIRTIO_BALLOON_S_CACHES, "disk_caches"}};
    const std::pair<uint16_t, const char*> counts[] = {{VIRTIO_BALLOON_S_MAJFLT, "major_fault"},
                                                       {VIRTIO_BALLOON_S_MINFLT, "minor_fault"},
                                                       {VIRTIO_BALLOON_S_HTLB_PGALLOC, "hugetlb_pgalloc"},
                                                       {VIRTIO_BALLOON_S_HTLB_PGFAIL, "hugetlb_pgfail"}};
    // Byte-valued tags (§5.5.6.3; Linux sends swap in/out as pages << PAGE_SHIFT); libvirt
    // prints KiB.
    for (const auto& [tag, name] : kib) {
      if (auto v = g.get(tag)) o[name] = *v >> 10;
    }
    for (const auto& [tag, name] : counts) {
      if (auto v = g.get(tag)) o[name] = *v;
    }
    o["last_update"] = epoch_seconds(g.updated_ns);
  }
  o["rss"] = rss_bytes >> 10;
  return o;
}

json::object balloon_counters_json(const BalloonCounters& c, const std::map<std::string, uint64_t>& queue_faults) {
  json::object faults;
  uint64_t bad = c.total_faults();
  for (size_t k = 0; k < kBalloonFaultKinds; ++k) {
    if (c.faults[k]) faults[balloon_fault_name(static_cast<BalloonFault>(k))] = c.faults[k];
  }
  for (const auto& [kind, n] : queue_faults) {
    faults["queue_" + kind] = n;
    bad += n;
  }
  return json::object{{"inflated_pages", c.inflated_pages},
                      {"deflated_pages", c.deflated_pages},
                      {"reported_pages", c.reported_pages},
                      {"migrated_pages", c.migrated_pages},
                      {"oom_deflated_pages", c.oom_deflated_pages},
                      {"unrequested_inflated_pages", c.unrequested_inflated_pages},
                      {"unrequested_deflated_pages", c.unrequested_deflated_pages},
                      {"reset_deflated_pages", c.reset_deflated_pages},
                      {"pressure_asked_pages", c.pressure_asked_pages},
                      {"inflate_requests", c.inflate_requests},
                      {"deflate_requests", c.deflate_requests},
                      {"report_requests", c.report_requests},
                      {"stats_buffers", c.stats_buffers},
                      {"frames_released", c.frames_released},
                      {"host_bytes_released", c.host_bytes_released},
                      {"inflate_ns_per_page", c.inflate_ns_per_page()},
                      {"inflate_cpu_ns_per_page", c.inflate_cpu_ns_per_page()},
                      {"bad_requests", bad},
                      {"faults", std::move(faults)}};
}

json::object balloon_json(const BalloonStatus& s, uint64_t rss_bytes,
                          const std::map<std::string, uint64_t>& queue_faults) {
  return json::object{{"active", s.active},
                      {"features", feature_names(s.negotiated_features)},
                      {"ram_bytes", s.ram_pages * gmm::kPageSize},
                      {"target_bytes", s.target_pages * gmm::kPageSize},
                      {"actual_bytes", s.actual_pages * gmm::kPageSize},
                      {"balloon_bytes", s.balloon_pages * gmm::kPageSize},
                      {"stats", dommemstat_json(s, rss_bytes)},
                      {"counters", balloon_counters_json(s.counters, queue_faults)}};
}

Result<BalloonRequest> balloon_request_from_json(std::string_view body, uint64_t memory_bytes) {
  auto bad = [](const std::string& m) { return make_error(std::errc::invalid_argument, m); };
  const char* usage =
      "the body must be {\"size\": SIZE} (the balloon), {\"current_memory\": SIZE} (the guest), "
      "{\"auto\": {\"margin\": SIZE, \"min_guest\": SIZE, \"max_step\": SIZE}} or {\"auto\": false}";
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object() || v.as_object().size() != 1) return bad(usage);
  const json::object& o = v.as_object();
  BalloonRequest req;
  if (const json::value* size = o.if_contains("size")) {
    TIDE_TRY_ASSIGN(bytes, json_size(*size, "size"));
    req.size = bytes;
    return req;
  }
  if (const json::value* a = o.if_contains("auto")) {
    req.set_auto = true;
    if (a->is_bool() && !a->as_bool()) return req;
    if (!a->is_object()) return bad("'auto' must be false or an object {\"margin\", \"min_guest\", \"max_step\"}");
    BalloonAutoOptions opts;
    for (const auto& kv : a->as_object()) {
      const std::string key(kv.key());
      TIDE_TRY_ASSIGN(bytes, json_size(kv.value(), "auto." + key));
      if (key == "margin") opts.params.free_margin_bytes = bytes;
      else if (key == "min_guest") opts.limits.min_guest_bytes = bytes;
      else if (key == "max_step") {
        if (bytes == 0) return bad("auto.max_step must be above 0");
        opts.params.max_step_bytes = bytes;
      } else {
        return bad("auto: unknown key '" + key + "' (margin, min_guest, max_step)");
      }
    }
    if (opts.limits.min_guest_bytes > memory_bytes) return bad("auto.min_guest is larger than the guest's memory");
    req.auto_options = opts;
    return req;
  }
  if (const json::value* cur = o.if_contains("current_memory")) {
    TIDE_TRY_ASSIGN(bytes, json_size(*cur, "current_memory"));
    if (bytes > memory_bytes) {
      return bad(log::strf("current_memory (%llu MiB) is larger than the guest's memory (%llu MiB)",
                           static_cast<unsigned long long>(bytes >> 20),
                           static_cast<unsigned long long>(memory_bytes >> 20)));
    }
    req.size = memory_bytes - bytes;
    return req;
  }
  return bad(usage);
}

json::object balloon_auto_json(const BalloonAutoStatus& s) {
  json::object o{{"enabled", s.enabled}, {"decisions", s.decisions}, {"target_changes", s.target_changes}};
  if (s.enabled) {
    o["margin_bytes"] = s.options.params.free_margin_bytes;
    o["min_guest_bytes"] = s.options.limits.min_guest_bytes;
    o["max_step_bytes"] = s.options.params.max_step_bytes;
  }
  if (s.last) {
    o["last_target_bytes"] = s.last->target_bytes;
    o["last_action"] = balloon::policy_action_name(s.last->action);
    o["last_reason"] = s.last->reason;
  }
  return o;
}

}  // namespace tide::vmm::api
