// Unit: the balloon's JSON for the API — every form of a balloon request and every refusal,
// the guest's statistics under virsh dommemstat's names (KiB, counts, absent when not sent,
// actual = the guest's memory), the counters with the virtqueues' faults, and auto mode's
// status.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <map>
#include <string>
#include <system_error>

#include "balloon/balloon_spec.hpp"
#include "balloon/clock.hpp"
#include "vmm/api/balloon_json.hpp"

namespace tide::vmm::api {
namespace {

namespace json = boost::json;
using namespace tide::balloon;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

BalloonRequest request_ok(std::string_view body, uint64_t memory = kGiB) {
  auto r = balloon_request_from_json(body, memory);
  EXPECT_TRUE(r) << body << ": " << r.error().message();
  return r ? *r : BalloonRequest{};
}

// The refusal's message (empty if the request was accepted, which fails the test).
std::string request_error(std::string_view body, uint64_t memory = kGiB) {
  auto r = balloon_request_from_json(body, memory);
  EXPECT_FALSE(r) << body << " was accepted";
  if (r) return {};
  EXPECT_EQ(r.error().code, std::make_error_code(std::errc::invalid_argument)) << body;
  return r.error().message();
}

// ---- balloon_request_from_json

TEST(BalloonRequestJson, SizeInBytesOrWithAUnit) {
  BalloonRequest r = request_ok(R"({"size": 268435456})");
  ASSERT_TRUE(r.size);
  EXPECT_EQ(*r.size, 256 * kMiB);
  EXPECT_FALSE(r.set_auto);
  EXPECT_FALSE(r.auto_options);

  EXPECT_EQ(request_ok(R"({"size": "256M"})").size, 256 * kMiB);
  EXPECT_EQ(request_ok(R"({"size": "1G"})").size, kGiB);
  EXPECT_EQ(request_ok(R"({"size": "512KiB"})").size, 512 * uint64_t{1024});
  EXPECT_EQ(request_ok(R"({"size": 0})").size, 0u);
}

TEST(BalloonRequestJson, CurrentMemoryIsTheGuestsShareAndBecomesTheBalloonsSize) {
  BalloonRequest r = request_ok(R"({"current_memory": "256M"})", kGiB);
  ASSERT_TRUE(r.size);
  EXPECT_EQ(*r.size, kGiB - 256 * kMiB);
  EXPECT_FALSE(r.set_auto);

  EXPECT_EQ(request_ok(R"({"current_memory": 1073741824})", kGiB).size, 0u) << "all of it: an empty balloon";
  EXPECT_EQ(request_ok(R"({"current_memory": 0})", kGiB).size, kGiB);
  EXPECT_EQ(request_ok(R"({"current_memory": "1G"})", 2 * kGiB).size, kGiB) << "relative to the memory given";
}

TEST(BalloonRequestJson, CurrentMemoryAboveTheGuestsMemoryIsRefused) {
  const std::string e = request_error(R"({"current_memory": "2G"})", kGiB);
  EXPECT_NE(e.find("current_memory (2048 MiB) is larger than the guest's memory (1024 MiB)"), std::string::npos) << e;
  // One byte over is still over.
  EXPECT_FALSE(balloon_request_from_json(R"({"current_memory": 1073741825})", kGiB));
}

TEST(BalloonRequestJson, AutoFalseTurnsAutoModeOff) {
  BalloonRequest r = request_ok(R"({"auto": false})");
  EXPECT_TRUE(r.set_auto);
  EXPECT_FALSE(r.auto_options);
  EXPECT_FALSE(r.size);
}

TEST(BalloonRequestJson, AutoWithEveryKey) {
  BalloonRequest r = request_ok(R"({"auto": {"margin": "128M", "min_guest": 536870912, "max_step": "64M"}})");
  EXPECT_TRUE(r.set_auto);
  EXPECT_FALSE(r.size);
  ASSERT_TRUE(r.auto_options);
  EXPECT_EQ(r.auto_options->params.free_margin_bytes, 128 * kMiB);
  EXPECT_EQ(r.auto_options->limits.min_guest_bytes, 512 * kMiB);
  EXPECT_EQ(r.auto_options->params.max_step_bytes, 64 * kMiB);
}

TEST(BalloonRequestJson, AutoKeysAreOptionalAndDefaultToThePolicys) {
  const BalloonAutoOptions defaults;
  BalloonRequest r = request_ok(R"({"auto": {}})");
  EXPECT_TRUE(r.set_auto);
  ASSERT_TRUE(r.auto_options);
  EXPECT_EQ(r.auto_options->params.free_margin_bytes, defaults.params.free_margin_bytes);
  EXPECT_EQ(r.auto_options->params.max_step_bytes, defaults.params.max_step_bytes);
  EXPECT_EQ(r.auto_options->limits.min_guest_bytes, 0u);

  r = request_ok(R"({"auto": {"margin": 0}})");
  ASSERT_TRUE(r.auto_options);
  EXPECT_EQ(r.auto_options->params.free_margin_bytes, 0u) << "a zero margin is allowed";
  EXPECT_EQ(r.auto_options->params.max_step_bytes, defaults.params.max_step_bytes);

  r = request_ok(R"({"auto": {"min_guest": "1G"}})", kGiB);
  ASSERT_TRUE(r.auto_options);
  EXPECT_EQ(r.auto_options->limits.min_guest_bytes, kGiB) << "the whole guest is the largest floor";
}

TEST(BalloonRequestJson, BadAutoRequests) {
  std::string e = request_error(R"({"auto": {"margin": "128M", "speed": 3}})");
  EXPECT_NE(e.find("auto: unknown key 'speed' (margin, min_guest, max_step)"), std::string::npos) << e;

  e = request_error(R"({"auto": {"max_step": 0}})");
  EXPECT_NE(e.find("auto.max_step must be above 0"), std::string::npos) << e;
  e = request_error(R"({"auto": {"max_step": "0M"}})");
  EXPECT_NE(e.find("auto.max_step must be above 0"), std::string::npos) << e;

  e = request_error(R"({"auto": {"min_guest": "2G"}})", kGiB);
  EXPECT_NE(e.find("auto.min_guest is larger than the guest's memory"), std::string::npos) << e;

  for (const char* body : {R"({"auto": true})", R"({"auto": 5})", R"({"auto": "on"})", R"({"auto": null})",
                           R"({"auto": [1]})"}) {
    e = request_error(body);
    EXPECT_NE(e.find("'auto' must be false or an object"), std::string::npos) << body << ": " << e;
  }

  // The values are sizes, named with their key.
  e = request_error(R"({"auto": {"margin": -1}})");
  EXPECT_NE(e.find("'auto.margin' must be a non-negative integer"), std::string::npos) << e;
  e = request_error(R"({"auto": {"min_guest": "lots"}})");
  EXPECT_NE(e.find("'auto.min_guest'"), std::string::npos) << e;
  EXPECT_NE(e.find("bad size 'lots'"), std::string::npos) << e;
}

TEST(BalloonRequestJson, BadSizes) {
  std::string e = request_error(R"({"size": -5})");
  EXPECT_NE(e.find("'size' must be a non-negative integer"), std::string::npos) << e;
  e = request_error(R"({"size": "256"})");
  EXPECT_NE(e.find("'size': give bytes as a number, or a size with a unit"), std::string::npos) << e;
  e = request_error(R"({"size": "256Q"})");
  EXPECT_NE(e.find("'size': bad size '256Q'"), std::string::npos) << e;
  e = request_error(R"({"size": 1.5})");
  EXPECT_NE(e.find("'size' must be a non-negative integer"), std::string::npos) << e;
  e = request_error(R"({"size": 1125899906842625})");  // 2^50 + 1
  EXPECT_NE(e.find("'size' is too large"), std::string::npos) << e;
  e = request_error(R"({"current_memory": true})");
  EXPECT_NE(e.find("'current_memory' must be a non-negative integer"), std::string::npos) << e;
}

TEST(BalloonRequestJson, EverythingElseGetsTheUsage) {
  for (const char* body : {"", "not json", "{", R"([{"size": 1}])", "42", R"("size")", "{}",
                           R"({"size": 1, "auto": false})", R"({"current_memory": "256M", "size": "1G"})",
                           R"({"target": 4096})", R"({"Size": 4096})"}) {
    const std::string e = request_error(body);
    EXPECT_NE(e.find(R"(the body must be {"size": SIZE} (the balloon), {"current_memory": SIZE} (the guest))"),
              std::string::npos)
        << "'" << body << "': " << e;
    EXPECT_NE(e.find(R"({"auto": false})"), std::string::npos) << e;
  }
}

// ---- dommemstat_json

BalloonStatus status_with(uint64_t ram_pages, uint64_t actual_pages) {
  BalloonStatus s;
  s.active = true;
  s.ram_pages = ram_pages;
  s.actual_pages = actual_pages;
  s.balloon_pages = actual_pages;
  s.target_pages = actual_pages;
  return s;
}

TEST(DommemstatJson, WithoutStatsOnlyActualAndRss) {
  // 1 GiB guest with a 256 MiB balloon: the guest has 768 MiB.
  const BalloonStatus s = status_with(kGiB / 4096, 256 * kMiB / 4096);
  const json::object o = dommemstat_json(s, 300 * kMiB);
  EXPECT_EQ(o.size(), 2u) << json::serialize(o);
  EXPECT_EQ(o.at("actual").as_uint64(), 768u * 1024);
  EXPECT_EQ(o.at("rss").as_uint64(), 300u * 1024);
  for (const char* name : {"swap_in", "swap_out", "major_fault", "minor_fault", "unused", "available", "usable",
                           "disk_caches", "hugetlb_pgalloc", "hugetlb_pgfail", "last_update"}) {
    EXPECT_FALSE(o.contains(name)) << name;
  }
}

TEST(DommemstatJson, ActualFollowsTheDriversActualNotTheTarget) {
  BalloonStatus s = status_with(kGiB / 4096, 0);
  s.target_pages = 512 * kMiB / 4096;  // asked for, not yet done
  EXPECT_EQ(dommemstat_json(s, 0).at("actual").as_uint64(), kGiB >> 10);
  s.actual_pages = 100 * kMiB / 4096;
  EXPECT_EQ(dommemstat_json(s, 0).at("actual").as_uint64(), (kGiB - 100 * kMiB) >> 10);
  // A driver claiming more than the guest's RAM: actual stays at 0, not a wrapped number.
  s.actual_pages = s.ram_pages + 10;
  EXPECT_EQ(dommemstat_json(s, 0).at("actual").as_uint64(), 0u);
}

TEST(DommemstatJson, EveryStatisticUnderItsVirshName) {
  BalloonStatus s = status_with(kGiB / 4096, 0);
  GuestStats g;
  g.set(VIRTIO_BALLOON_S_SWAP_IN, 8 * kMiB);
  g.set(VIRTIO_BALLOON_S_SWAP_OUT, 16 * kMiB);
  g.set(VIRTIO_BALLOON_S_MAJFLT, 123);
  g.set(VIRTIO_BALLOON_S_MINFLT, 456789);
  g.set(VIRTIO_BALLOON_S_MEMFREE, 100 * kMiB);
  g.set(VIRTIO_BALLOON_S_MEMTOT, 1000 * kMiB);
  g.set(VIRTIO_BALLOON_S_AVAIL, 700 * kMiB + 1023);  // KiB round down
  g.set(VIRTIO_BALLOON_S_CACHES, 50 * kMiB);
  g.set(VIRTIO_BALLOON_S_HTLB_PGALLOC, 7);
  g.set(VIRTIO_BALLOON_S_HTLB_PGFAIL, 2);
  g.updated_ns = monotonic_ns();
  g.sequence = 1;
  s.stats = g;

  const json::object o = dommemstat_json(s, 64 * kMiB);
  EXPECT_EQ(o.size(), 13u) << json::serialize(o);
  // Bytes become KiB.
  EXPECT_EQ(o.at("swap_in").as_uint64(), 8u * 1024);
  EXPECT_EQ(o.at("swap_out").as_uint64(), 16u * 1024);
  EXPECT_EQ(o.at("unused").as_uint64(), 100u * 1024);
  EXPECT_EQ(o.at("available").as_uint64(), 1000u * 1024);
  EXPECT_EQ(o.at("usable").as_uint64(), 700u * 1024);
  EXPECT_EQ(o.at("disk_caches").as_uint64(), 50u * 1024);
  // Counts stay counts.
  EXPECT_EQ(o.at("major_fault").as_uint64(), 123u);
  EXPECT_EQ(o.at("minor_fault").as_uint64(), 456789u);
  EXPECT_EQ(o.at("hugetlb_pgalloc").as_uint64(), 7u);
  EXPECT_EQ(o.at("hugetlb_pgfail").as_uint64(), 2u);
  EXPECT_EQ(o.at("actual").as_uint64(), kGiB >> 10);
  EXPECT_EQ(o.at("rss").as_uint64(), 64u * 1024);
  EXPECT_TRUE(o.contains("last_update"));
}

TEST(DommemstatJson, AStatisticTheGuestDidNotSendIsLeftOut) {
  BalloonStatus s = status_with(kGiB / 4096, 0);
  GuestStats g;
  g.set(VIRTIO_BALLOON_S_MEMFREE, 4 * kMiB);
  g.set(VIRTIO_BALLOON_S_MINFLT, 0);  // sent as zero: present
  g.updated_ns = monotonic_ns();
  s.stats = g;
  const json::object o = dommemstat_json(s, 0);
  EXPECT_EQ(o.at("unused").as_uint64(), 4u * 1024);
  EXPECT_EQ(o.at("minor_fault").as_uint64(), 0u);
  EXPECT_TRUE(o.contains("last_update"));
  for (const char* name : {"swap_in", "swap_out", "major_fault", "available", "usable", "disk_caches",
                           "hugetlb_pgalloc", "hugetlb_pgfail"}) {
    EXPECT_FALSE(o.contains(name)) << name << " in " << json::serialize(o);
  }
  EXPECT_EQ(o.size(), 5u) << json::serialize(o);  // actual, unused, minor_fault, last_update, rss

  // A buffer with no entries at all: only its time.
  s.stats = GuestStats{};
  s.stats->updated_ns = monotonic_ns();
  const json::object empty = dommemstat_json(s, 0);
  EXPECT_EQ(empty.size(), 3u) << json::serialize(empty);
  EXPECT_TRUE(empty.contains("last_update"));
}

uint64_t wall_seconds() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

TEST(DommemstatJson, LastUpdateIsWhenTheStatsArrivedInSecondsSinceTheEpoch) {
  BalloonStatus s = status_with(kGiB / 4096, 0);
  s.stats = GuestStats{};
  s.stats->set(VIRTIO_BALLOON_S_AVAIL, kMiB);

  // Arrived 100 s ago (on the device's monotonic clock).
  uint64_t before = wall_seconds();
  s.stats->updated_ns = monotonic_ns() - uint64_t{100} * 1000 * 1000 * 1000;
  uint64_t last = dommemstat_json(s, 0).at("last_update").as_uint64();
  uint64_t after = wall_seconds();
  EXPECT_GE(last, before - 101);
  EXPECT_LE(last, after - 100);

  // Just now.
  before = wall_seconds();
  s.stats->updated_ns = monotonic_ns();
  last = dommemstat_json(s, 0).at("last_update").as_uint64();
  after = wall_seconds();
  EXPECT_GE(last, before - 1);
  EXPECT_LE(last, after);
}

// ---- balloon_counters_json

TEST(BalloonCountersJson, EveryCounterAndTheFaultsByName) {
  BalloonCounters c;
  c.inflated_pages = 1000;
  c.deflated_pages = 400;
  c.reported_pages = 77;
  c.migrated_pages = 3;
  c.oom_deflated_pages = 5;
  c.unrequested_inflated_pages = 6;
  c.unrequested_deflated_pages = 7;
  c.reset_deflated_pages = 8;
  c.inflate_requests = 9;
  c.deflate_requests = 10;
  c.report_requests = 11;
  c.stats_buffers = 12;
  c.frames_released = 990;
  c.host_bytes_released = 990 * 4096;
  c.inflate_ns = 5000;
  c.inflate_timed_pages = 1000;
  c.faults[static_cast<size_t>(BalloonFault::kPfnOutsideRam)] = 2;
  c.faults[static_cast<size_t>(BalloonFault::kStatsUnknownTag)] = 4;

  const json::object o = balloon_counters_json(c);
  EXPECT_EQ(o.at("inflated_pages").as_uint64(), 1000u);
  EXPECT_EQ(o.at("deflated_pages").as_uint64(), 400u);
  EXPECT_EQ(o.at("reported_pages").as_uint64(), 77u);
  EXPECT_EQ(o.at("migrated_pages").as_uint64(), 3u);
  EXPECT_EQ(o.at("oom_deflated_pages").as_uint64(), 5u);
  EXPECT_EQ(o.at("unrequested_inflated_pages").as_uint64(), 6u);
  EXPECT_EQ(o.at("unrequested_deflated_pages").as_uint64(), 7u);
  EXPECT_EQ(o.at("reset_deflated_pages").as_uint64(), 8u);
  EXPECT_EQ(o.at("inflate_requests").as_uint64(), 9u);
  EXPECT_EQ(o.at("deflate_requests").as_uint64(), 10u);
  EXPECT_EQ(o.at("report_requests").as_uint64(), 11u);
  EXPECT_EQ(o.at("stats_buffers").as_uint64(), 12u);
  EXPECT_EQ(o.at("frames_released").as_uint64(), 990u);
  EXPECT_EQ(o.at("host_bytes_released").as_uint64(), 990u * 4096);
  EXPECT_DOUBLE_EQ(o.at("inflate_ns_per_page").as_double(), 5.0);
  EXPECT_EQ(o.at("bad_requests").as_uint64(), 6u);
  const json::object& f = o.at("faults").as_object();
  EXPECT_EQ(f.size(), 2u) << "kinds that never happened are left out: " << json::serialize(f);
  EXPECT_EQ(f.at("pfn_outside_ram").as_uint64(), 2u);
  EXPECT_EQ(f.at(balloon_fault_name(BalloonFault::kStatsUnknownTag)).as_uint64(), 4u);
}

TEST(BalloonCountersJson, NoFaultsNoBadRequests) {
  const json::object o = balloon_counters_json(BalloonCounters{});
  EXPECT_EQ(o.at("bad_requests").as_uint64(), 0u);
  EXPECT_TRUE(o.at("faults").as_object().empty());
  EXPECT_DOUBLE_EQ(o.at("inflate_ns_per_page").as_double(), 0.0);
}

TEST(BalloonCountersJson, QueueFaultsAreNamedAndCountedInBadRequests) {
  BalloonCounters c;
  c.faults[static_cast<size_t>(BalloonFault::kPfnDuplicate)] = 3;
  const std::map<std::string, uint64_t> queue = {{"bad_descriptor", 5}, {"loop", 1}};
  const json::object o = balloon_counters_json(c, queue);
  EXPECT_EQ(o.at("bad_requests").as_uint64(), 3u + 5u + 1u);
  const json::object& f = o.at("faults").as_object();
  EXPECT_EQ(f.size(), 3u) << json::serialize(f);
  EXPECT_EQ(f.at("pfn_duplicate_in_request").as_uint64(), 3u);
  EXPECT_EQ(f.at("queue_bad_descriptor").as_uint64(), 5u);
  EXPECT_EQ(f.at("queue_loop").as_uint64(), 1u);
  EXPECT_FALSE(f.contains("bad_descriptor"));

  // Queue faults alone.
  const json::object q = balloon_counters_json(BalloonCounters{}, {{"overrun", 2}});
  EXPECT_EQ(q.at("bad_requests").as_uint64(), 2u);
  EXPECT_EQ(q.at("faults").as_object().at("queue_overrun").as_uint64(), 2u);
}

// ---- balloon_json

TEST(BalloonJson, TheStatusInBytesWithFeatureNamesStatsAndCounters) {
  BalloonStatus s;
  s.active = true;
  s.negotiated_features = (uint64_t{1} << VIRTIO_BALLOON_F_MUST_TELL_HOST) |
                          (uint64_t{1} << VIRTIO_BALLOON_F_STATS_VQ) |
                          (uint64_t{1} << VIRTIO_BALLOON_F_PAGE_REPORTING) | (uint64_t{1} << 32);  // VERSION_1
  s.ram_pages = 262144;  // 1 GiB
  s.target_pages = 65536;
  s.actual_pages = 65000;
  s.balloon_pages = 65001;
  s.counters.inflated_pages = 65001;
  s.counters.faults[static_cast<size_t>(BalloonFault::kBackendError)] = 1;

  const json::object o = balloon_json(s, 500 * kMiB, {{"bad_descriptor", 2}});
  EXPECT_TRUE(o.at("active").as_bool());
  EXPECT_EQ(o.at("ram_bytes").as_uint64(), kGiB);
  EXPECT_EQ(o.at("target_bytes").as_uint64(), 65536u * 4096);
  EXPECT_EQ(o.at("actual_bytes").as_uint64(), 65000u * 4096);
  EXPECT_EQ(o.at("balloon_bytes").as_uint64(), 65001u * 4096);
  const json::array& features = o.at("features").as_array();
  ASSERT_EQ(features.size(), 3u) << json::serialize(features);
  EXPECT_EQ(features[0].as_string(), "must_tell_host");
  EXPECT_EQ(features[1].as_string(), "stats_vq");
  EXPECT_EQ(features[2].as_string(), "page_reporting");

  const json::object& stats = o.at("stats").as_object();
  EXPECT_EQ(stats.at("actual").as_uint64(), (262144u - 65000u) * 4);
  EXPECT_EQ(stats.at("rss").as_uint64(), 500u * 1024);
  EXPECT_FALSE(stats.contains("usable"));

  const json::object& counters = o.at("counters").as_object();
  EXPECT_EQ(counters.at("inflated_pages").as_uint64(), 65001u);
  EXPECT_EQ(counters.at("bad_requests").as_uint64(), 3u);
  EXPECT_EQ(counters.at("faults").as_object().at("queue_bad_descriptor").as_uint64(), 2u);
}

TEST(BalloonJson, DeflateOnOomAndAnInactiveDevice) {
  BalloonStatus s;
  s.negotiated_features = uint64_t{1} << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
  const json::object o = balloon_json(s, 0);
  EXPECT_FALSE(o.at("active").as_bool());
  const json::array& features = o.at("features").as_array();
  ASSERT_EQ(features.size(), 1u);
  EXPECT_EQ(features[0].as_string(), "deflate_on_oom");
  EXPECT_TRUE(balloon_json(BalloonStatus{}, 0).at("features").as_array().empty());
}

// ---- balloon_auto_json

TEST(BalloonAutoJson, OffWithoutDecisions) {
  const json::object o = balloon_auto_json(BalloonAutoStatus{});
  EXPECT_EQ(o.size(), 3u) << json::serialize(o);
  EXPECT_FALSE(o.at("enabled").as_bool());
  EXPECT_EQ(o.at("decisions").as_uint64(), 0u);
  EXPECT_EQ(o.at("target_changes").as_uint64(), 0u);
  EXPECT_FALSE(o.contains("margin_bytes"));
  EXPECT_FALSE(o.contains("last_action"));
}

TEST(BalloonAutoJson, OnWithItsOptionsAndTheLastDecision) {
  BalloonAutoStatus s;
  s.enabled = true;
  s.options.params.free_margin_bytes = 128 * kMiB;
  s.options.params.max_step_bytes = 64 * kMiB;
  s.options.limits.min_guest_bytes = 512 * kMiB;
  s.decisions = 7;
  s.target_changes = 3;
  s.last = BalloonPolicyDecision{};
  s.last->target_bytes = 300 * kMiB;
  s.last->action = PolicyAction::kDeflate;
  s.last->reason = "guest has 10 MiB available";

  const json::object o = balloon_auto_json(s);
  EXPECT_TRUE(o.at("enabled").as_bool());
  EXPECT_EQ(o.at("decisions").as_uint64(), 7u);
  EXPECT_EQ(o.at("target_changes").as_uint64(), 3u);
  EXPECT_EQ(o.at("margin_bytes").as_uint64(), 128 * kMiB);
  EXPECT_EQ(o.at("max_step_bytes").as_uint64(), 64 * kMiB);
  EXPECT_EQ(o.at("min_guest_bytes").as_uint64(), 512 * kMiB);
  EXPECT_EQ(o.at("last_target_bytes").as_uint64(), 300 * kMiB);
  EXPECT_EQ(o.at("last_action").as_string(), "deflate");
  EXPECT_EQ(o.at("last_reason").as_string(), "guest has 10 MiB available");
}

TEST(BalloonAutoJson, TurnedOffKeepsTheLastDecisionButNotTheOptions) {
  BalloonAutoStatus s;
  s.enabled = false;
  s.options.params.free_margin_bytes = 128 * kMiB;
  s.decisions = 2;
  s.target_changes = 2;
  s.last = BalloonPolicyDecision{uint64_t{4096}, PolicyAction::kInflate, "surplus"};
  const json::object o = balloon_auto_json(s);
  EXPECT_FALSE(o.at("enabled").as_bool());
  EXPECT_FALSE(o.contains("margin_bytes"));
  EXPECT_FALSE(o.contains("min_guest_bytes"));
  EXPECT_FALSE(o.contains("max_step_bytes"));
  EXPECT_EQ(o.at("decisions").as_uint64(), 2u);
  EXPECT_EQ(o.at("last_action").as_string(), "inflate");
  EXPECT_EQ(o.at("last_target_bytes").as_uint64(), 4096u);
  EXPECT_EQ(o.at("last_reason").as_string(), "surplus");
}

}  // namespace
}  // namespace tide::vmm::api
