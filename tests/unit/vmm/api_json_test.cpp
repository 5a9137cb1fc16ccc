// Unit: the control API's JSON — tide's guest definitions (types, missing and unknown keys,
// sizes, huge values), Cloud Hypervisor's vm.create in both forms with its refusals and
// warnings, VmInfo, and the mapping of errors to HTTP statuses.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "vmm/api/ch_config.hpp"
#include "vmm/api/guest_json.hpp"

namespace tide::vmm::api {
namespace {

namespace json = boost::json;

TEST(GuestJson, AFullDefinition) {
  auto c = guest_config_from_json(R"({"name":"g1","memory":"1G","current_memory":536870912,"vcpus":2,
    "kernel":"/k","initrd":"/i","cmdline":"x=1","rng":false,"console":{"file":"/tmp/c.log"},
    "balloon":{"enabled":true,"autodeflate":true,"free_page_reporting":true,"stats_period":10},
    "memtune":{"hard_limit":"768M","soft_limit":"unlimited","min_guarantee":-1}})");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->name, "g1");
  EXPECT_EQ(c->memory_bytes, 1ull << 30);
  EXPECT_EQ(*c->current_memory_bytes, 512ull << 20);
  EXPECT_EQ(c->vcpus, 2u);
  EXPECT_EQ(c->kernel, "/k");
  EXPECT_FALSE(c->rng);
  EXPECT_EQ(c->console.kind, ConsoleConfig::Kind::file);
  EXPECT_EQ(c->console.path, "/tmp/c.log");
  EXPECT_TRUE(c->balloon.autodeflate);
  EXPECT_EQ(c->balloon.stats_period_s, 10u);
  EXPECT_EQ(*c->memtune.hard_limit, 768ull << 20);
  EXPECT_EQ(*c->memtune.soft_limit, kUnlimited);
  EXPECT_EQ(*c->memtune.min_guarantee, kUnlimited);
}

TEST(GuestJson, BadRequestsNameTheProblem) {
  struct Case {
    const char* body;
    const char* want;
  };
  const Case cases[] = {
      {"not json", "not JSON"},
      {"[1,2]", "must be a JSON object"},
      {R"({"memory":"1G"})", "'name' is required"},
      {R"({"name":7})", "'name' must be a string"},
      {R"({"name":"g","memory":"lots"})", "'memory'"},
      {R"({"name":"g","memory":"512"})", "give bytes as a number"},
      {R"({"name":"g","memory":-5})", "'memory' must be a non-negative integer"},
      {R"({"name":"g","memory":1e300})", "'memory' must be a non-negative integer"},
      {R"({"name":"g","memory":18446744073709551615})", "'memory' is too large"},
      {R"({"name":"g","vcpus":255})", "'vcpus' is too large"},
      {R"({"name":"g","vcpus":"2"})", "'vcpus' must be a non-negative integer"},
      {R"({"name":"g","rng":"yes"})", "'rng' must be true or false"},
      {R"({"name":"g","console":"serial"})", "'console' must be"},
      {R"({"name":"g","flavour":1})", "unknown key 'flavour'"},
      {R"({"name":"g","balloon":{"size":1}})", "balloon: unknown key 'size'"},
      {R"({"name":"g","balloon":[]})", "'balloon' must be an object"},
      {R"({"name":"g","memtune":{"hard_limit":"x"}})", "'memtune.hard_limit'"},
      {R"({"name":"g","memtune":{"swap":1}})", "memtune: unknown key 'swap'"},
  };
  for (const Case& c : cases) {
    auto r = guest_config_from_json(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << c.body << " -> " << r.error().message();
    EXPECT_EQ(http_status_for(r.error()), 400u) << c.body;
  }
}

TEST(GuestJson, ErrorsMapToStatuses) {
  EXPECT_EQ(http_status_for(make_error(std::errc::no_such_file_or_directory, "")), 404u);
  EXPECT_EQ(http_status_for(make_error(std::errc::file_exists, "")), 409u);
  EXPECT_EQ(http_status_for(make_error(std::errc::operation_not_permitted, "")), 409u);
  EXPECT_EQ(http_status_for(make_error(std::errc::device_or_resource_busy, "")), 409u);  // a max not met
  EXPECT_EQ(http_status_for(make_error(std::errc::too_many_files_open, "")), 429u);
  EXPECT_EQ(http_status_for(make_error(std::errc::io_error, "")), 500u);
}

TEST(GuestJson, MemoryControl) {
  auto c = guest_config_from_json(R"({"name":"g1","partition":"/tenant/a",
    "memory_control":{"oom_policy":"stop","swappiness":0,"swap_size":"1G","swap_directory":"/srv/swap","low":-1}})");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->partition, "/tenant/a");
  EXPECT_EQ(c->memory_control.oom_policy, gmm::reclaim::OomPolicy::stop);
  EXPECT_EQ(c->memory_control.swappiness, 0u);
  EXPECT_EQ(c->memory_control.swap_size_bytes, 1ull << 30);
  EXPECT_EQ(c->memory_control.swap_directory, "/srv/swap");
  EXPECT_EQ(c->memory_control.low, kUnlimited);
  struct Case {
    const char* body;
    const char* want;
  };
  const Case cases[] = {
      {R"({"name":"g","partition":"tenant"})", "'partition': memcg group 'tenant': a group path starts with '/'"},
      {R"({"name":"g","partition":7})", "'partition' must be a string"},
      {R"({"name":"g","memory_control":{"oom_policy":"kill"}})", "'memory_control.oom_policy': unknown OOM policy 'kill'"},
      {R"({"name":"g","memory_control":{"swappiness":201}})", "'memory_control.swappiness' is too large (at most 200)"},
      {R"({"name":"g","memory_control":{"swap_directory":"x"}})", "must be an absolute directory"},
      {R"({"name":"g","memory_control":{"swap":1}})", "memory_control: unknown key 'swap'"},
      {R"({"name":"g","memory_control":[]})", "'memory_control' must be an object"},
  };
  for (const Case& k : cases) {
    auto r = guest_config_from_json(k.body);
    ASSERT_FALSE(r) << k.body;
    EXPECT_NE(r.error().message().find(k.want), std::string::npos) << k.body << ": " << r.error().message();
  }
}

TEST(GuestJson, InfoCarriesTheMemcg) {
  GuestInfo i;
  i.config.name = "g";
  i.config.partition = "/t";
  i.memory = gmm::GuestMmStats{};
  i.memory->swapped_pages = 2;
  gmm::memcg::MemcgSnapshot m;
  m.path = "/t/g";
  m.current = 3;
  m.settings.max = 256;
  m.swap_current = 2;
  i.memcg = m;
  auto o = guest_info_json(i);
  EXPECT_EQ(o.at("partition"), "/t");
  EXPECT_EQ(o.at("memory").as_object().at("swapped_bytes"), 8192u);
  const auto& j = o.at("memcg").as_object();
  EXPECT_EQ(j.at("path"), "/t/g");
  EXPECT_EQ(j.at("current"), 3u * 4096);
  EXPECT_EQ(j.at("max"), 1u << 20);
  EXPECT_EQ(j.at("high"), "max");
  EXPECT_EQ(j.at("swap_current"), 8192u);
  EXPECT_EQ(j.at("swap_max"), "max");
}

TEST(GuestJson, InfoCarriesStateMemoryAndExit) {
  GuestInfo i;
  i.config.name = "g";
  i.config.memory_bytes = 256ull << 20;
  i.state = GuestState::running;
  i.memory = gmm::GuestMmStats{};
  i.memory->resident_frames = 1024;
  i.last_exit = VmExit{VmExit::Kind::debug_exit, 3, "bye"};
  auto o = guest_info_json(i);
  EXPECT_EQ(o.at("state").as_string(), "running");
  EXPECT_EQ(o.at("kernel").as_string(), "tideguest");
  EXPECT_EQ(o.at("memory").as_object().at("resident_bytes").as_uint64(), 4u << 20);
  EXPECT_EQ(o.at("last_exit").as_object().at("status").as_int64(), 3);
}

TEST(ChConfig, TheRequestLibvirtSends) {
  json::value parsed;
  auto c = guest_config_from_ch(
      R"({"console":{"mode":"Pty"},"cpus":{"boot_vcpus":2,"max_vcpus":4},"memory":{"size":1073741824},
      "kernel":{"path":"/k"},"cmdline":{"args":"console=ttyS0"},"initramfs":{"path":"/i"},
      "disks":[{"path":"/d"}],"net":[{"vhost_user":true}]})",
      &parsed);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->vcpus, 2u);
  EXPECT_EQ(c->memory_bytes, 1ull << 30);
  EXPECT_EQ(c->kernel, "/k");
  EXPECT_EQ(c->cmdline, "console=ttyS0");
  EXPECT_EQ(c->initrd, "/i");
  EXPECT_EQ(c->console.kind, ConsoleConfig::Kind::pty);
  EXPECT_FALSE(c->balloon.enabled);
  ASSERT_EQ(c->warnings.size(), 3u);  // max_vcpus, disks, net
  EXPECT_TRUE(parsed.is_object());
}

TEST(ChConfig, PayloadFormBalloonAndSerial) {
  json::value parsed;
  auto c = guest_config_from_ch(R"({"memory":{"size":536870912},"payload":{"kernel":"/k","cmdline":"c"},
    "serial":{"mode":"File","file":"/tmp/s.log"},"balloon":{"size":134217728,"deflate_on_oom":true},"rng":{"src":"/dev/urandom"}})",
                                &parsed);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->kernel, "/k");
  EXPECT_EQ(c->console.kind, ConsoleConfig::Kind::file);
  EXPECT_EQ(c->console.path, "/tmp/s.log");
  EXPECT_TRUE(c->balloon.autodeflate);
  EXPECT_EQ(*c->current_memory_bytes, 384ull << 20);
  EXPECT_TRUE(c->rng);
}

TEST(ChConfig, Refusals) {
  json::value parsed;
  for (const char* body : {R"({})", R"({"memory":{"size":0},"kernel":{"path":"/k"}})",
                           R"({"memory":{"size":1048576}})", R"({"memory":{"size":"big"},"kernel":{"path":"/k"}})",
                           R"({"memory":{"size":268435456,"zones":[{"id":"z"}]},"kernel":{"path":"/k"}})",
                           R"({"memory":{"size":268435456},"numa":[{"guest_numa_id":0}],"kernel":{"path":"/k"}})",
                           R"({"memory":{"size":268435456},"payload":{"firmware":"/f"}})",
                           R"({"memory":{"size":268435456},"kernel":{"path":"/k"},"console":{"mode":"Socket"}})",
                           R"({"memory":{"size":268435456},"kernel":{"path":"/k"},"balloon":{"size":536870912}})",
                           R"({"memory":{"size":268435456},"kernel":{"path":"/k"},"cpus":{"boot_vcpus":300}})"}) {
    auto c = guest_config_from_ch(body, &parsed);
    EXPECT_FALSE(c) << body;
    if (!c) {
      EXPECT_EQ(c.error().message().rfind("vm.create: ", 0), 0u) << c.error().message();
    }
  }
}

TEST(ChConfig, VmInfoReportsThePtyWhereLibvirtLooks) {
  json::value created = json::parse(R"({"console":{"mode":"Pty"},"serial":{"mode":"Off"},"memory":{"size":1}})");
  GuestInfo i;
  i.config.memory_bytes = 1;
  i.config.console.kind = ConsoleConfig::Kind::pty;
  i.config.console.path = "/dev/pts/7";
  i.state = GuestState::paused;
  auto o = ch_vm_info(i, created);
  EXPECT_EQ(o.at("state").as_string(), "Paused");
  EXPECT_EQ(o.at("config").as_object().at("console").as_object().at("file").as_string(), "/dev/pts/7");
  EXPECT_FALSE(o.at("config").as_object().at("serial").as_object().contains("file"));
}

}  // namespace
}  // namespace tide::vmm::api
