// Unit: `tide ctl memcg` and `memcg-group` — each spelling's API request (method, target
// with the name URL-encoded, JSON body), the usage errors, and the text of the answers as
// cgroup v2's files read (a node, the list, and the memcg part of `tide ctl info`).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "vmm/cli/memcg_ctl.hpp"

namespace tide::vmm {
namespace {

namespace json = boost::json;
using Answer = MemcgCtlRequest::Answer;

MemcgCtlRequest request_ok(const std::string& verb, const std::vector<std::string>& args) {
  auto r = memcg_ctl_request(verb, args);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : MemcgCtlRequest{};
}

std::string request_error(const std::string& verb, const std::vector<std::string>& args) {
  auto r = memcg_ctl_request(verb, args);
  EXPECT_FALSE(r) << "accepted: " << r->method << " " << r->target << " " << r->body;
  return r ? "" : r.error().message();
}

TEST(MemcgCtl, Reads) {
  MemcgCtlRequest r = request_ok("memcg", {});
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/api/v1/memcg");
  EXPECT_EQ(r.answer, Answer::list);
  for (const auto& args : {std::vector<std::string>{"g1"}, std::vector<std::string>{"g1", "get"}}) {
    r = request_ok("memcg", args);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/api/v1/memcg/g1");
    EXPECT_EQ(r.answer, Answer::node);
    EXPECT_EQ(r.body, "");
  }
  EXPECT_EQ(request_ok("memcg", {"/tenant/team a"}).target, "/api/v1/memcg/%2Ftenant%2Fteam%20a");
}

TEST(MemcgCtl, SetBuildsOneBody) {
  const MemcgCtlRequest r = request_ok(
      "memcg", {"g1", "set", "max=512M", "high=max", "low=0", "min=64M", "swap.max=1G", "oom_policy=stop", "swappiness=10"});
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.target, "/api/v1/memcg/g1");
  EXPECT_EQ(r.answer, Answer::node);
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"max":"512M","high":"max","low":"0","min":"64M","swap_max":"1G",
                                                 "oom_policy":"stop","swappiness":10})"));
  EXPECT_EQ(json::parse(request_ok("memcg", {"g1", "set", "swap_max=0"}).body), json::parse(R"({"swap_max":"0"})"));
  const MemcgCtlRequest p = request_ok("memcg", {"/tenant", "reset-peak"});
  EXPECT_EQ(p.method, "PUT");
  EXPECT_EQ(p.target, "/api/v1/memcg/%2Ftenant");
  EXPECT_EQ(json::parse(p.body), json::parse(R"({"reset_peak":true})"));
}

TEST(MemcgCtl, Groups) {
  MemcgCtlRequest r = request_ok("memcg-group", {"create", "/tenant/team"});
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/api/v1/memcg");
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"path":"/tenant/team"})"));
  r = request_ok("memcg-group", {"remove", "/tenant/team"});
  EXPECT_EQ(r.method, "DELETE");
  EXPECT_EQ(r.target, "/api/v1/memcg/%2Ftenant%2Fteam");
  EXPECT_EQ(r.answer, Answer::removed);
}

TEST(MemcgCtl, UsageErrors) {
  struct Case {
    std::string verb;
    std::vector<std::string> args;
    const char* want;
  };
  const Case cases[] = {
      {"memcg", {"g1", "set"}, "memcg NAME set needs at least one KEY=VALUE"},
      {"memcg", {"g1", "set", "max"}, "'max' is not KEY=VALUE"},
      {"memcg", {"g1", "set", "=5"}, "'=5' is not KEY=VALUE"},
      {"memcg", {"g1", "set", "max="}, "'max' has no value"},
      {"memcg", {"g1", "set", "limit=5"}, "unknown key 'limit' (max, high, low, min, swap.max, oom_policy, swappiness)"},
      {"memcg", {"g1", "set", "max=1G", "max=2G"}, "'max' is given twice"},
      {"memcg", {"g1", "set", "swap.max=1G", "swap_max=2G"}, "'swap.max' is given twice"},
      {"memcg", {"g1", "set", "swappiness=lots"}, "swappiness=lots: give a number from 0 to 200"},
      {"memcg", {"g1", "set", "swappiness=201"}, "swappiness=201: give a number from 0 to 200"},
      {"memcg", {"g1", "set", "swappiness=-1"}, "swappiness=-1: give a number from 0 to 200"},
      {"memcg", {"g1", "grow"}, "unknown memcg action 'grow' (get, set, reset-peak)"},
      {"memcg", {"g1", "get", "x"}, "memcg NAME get takes nothing more"},
      {"memcg", {"g1", "reset-peak", "x"}, "memcg NAME reset-peak takes nothing more"},
      {"memcg-group", {"create"}, "memcg-group takes create PATH or remove PATH"},
      {"memcg-group", {"make", "/x"}, "memcg-group takes create PATH or remove PATH"},
  };
  for (const Case& c : cases) {
    const std::string e = request_error(c.verb, c.args);
    EXPECT_NE(e.find(c.want), std::string::npos) << e;
    EXPECT_NE(e.find("(usage: tide ctl memcg "), std::string::npos) << e;
  }
}

TEST(MemcgCtl, UrlEncode) {
  EXPECT_EQ(url_encode("g1.a_b-c~"), "g1.a_b-c~");
  EXPECT_EQ(url_encode("/a/b"), "%2Fa%2Fb");
  EXPECT_EQ(url_encode("a%b?c"), "a%25b%3Fc");
}

const char* const kNode = R"({"path":"/tenant/g1","name":"g1","kind":"guest","parent":"/tenant",
  "settings":{"max":536870912,"high":"max","low":0,"min":0,"swap_max":"max"},
  "current":12288,"peak":20480,"swap_current":4096,"swap_peak":8192,
  "events":{"low":0,"high":3,"max":1,"oom":0,"oom_kill":0,"swap.max":2,"swap.fail":1},
  "events_local":{"low":0,"high":3,"max":1,"oom":0,"oom_kill":0,"swap.max":2,"swap.fail":1},
  "stat":{"resident":12288,"faults":7},
  "guest":{"oom_policy":"stop","swappiness":60,"stalled":false,"parked_faults":0,"throttled_faults":0,
           "sampled_faults":0,"resident":12288,"swapped":4096,"swap_in":1,"swap_out":2,"ballooned":0,
           "lru":{"inactive":4096,"active":8192,"isolated":0,"sampled":0},
           "sampler":{"rounds":1},
           "swap":{"directory":"/var/tmp/tide-swap","created":true,"direct_io":true,"size":268435456,"used":4096,
                   "pages_out":2,"pages_in":1,"full":0,"write_errors":0,"read_errors":0}}})";

TEST(MemcgCtl, NodeReadsLikeCgroupFiles) {
  const std::string text = format_memcg_node(json::parse(kNode).as_object());
  for (const char* want :
       {"path /tenant/g1\n", "kind guest\n", "memory.current 12288\n", "memory.peak 20480\n", "memory.max 536870912\n",
        "memory.high max\n", "memory.low 0\n", "memory.swap.current 4096\n", "memory.swap.max max\n",
        "memory.events high 3\n", "memory.events.local max 1\n", "memory.swap.events max 2\n",
        "memory.swap.events fail 1\n", "memory.stat resident 12288\n", "memory.stat faults 7\n", "oom_policy stop\n",
        "swappiness 60\n", "stalled no\n", "swap.file /var/tmp/tide-swap (created, direct I/O) size 268435456 used 4096\n",
        "lru.active 8192\n", "sampler.rounds 1\n"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  EXPECT_EQ(text.find("memory.events swap."), std::string::npos) << text;
  // A group has no guest part.
  auto group = json::parse(kNode).as_object();
  group.erase("guest");
  EXPECT_EQ(format_memcg_node(group).find("oom_policy"), std::string::npos);
}

TEST(MemcgCtl, ListIsOneLinePerNode) {
  const std::string text = format_memcg_list(json::parse(std::string(R"({"nodes":[)") +
                                                          R"({"path":"/","kind":"root","current":0,"swap_current":0,
                                                              "settings":{"max":1073741824,"swap_max":"max"}},)" +
                                                          kNode + "]}")
                                                  .as_object());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  EXPECT_NE(text.find("PATH"), std::string::npos);
  EXPECT_NE(text.find("/tenant/g1"), std::string::npos) << text;
  EXPECT_NE(text.find("512 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("1 GiB"), std::string::npos) << text;
}

TEST(MemcgCtl, GuestInfoPart) {
  const auto info = json::parse(R"({"name":"g1","memory":{"swap_in":1,"swap_out":2},
    "memcg":{"path":"/g1","current":2097152,"peak":4194304,"max":"max","high":1048576,"swap_current":0,"swap_max":0}})");
  const std::string text = format_guest_memcg(info.as_object());
  EXPECT_EQ(text,
            "memcg:     /g1: current 2 MiB (peak 4 MiB), max max, high 1 MiB\n"
            "swap:      0 B in swap, swap.max 0 B (2 pages out, 1 in)\n");
  EXPECT_EQ(format_guest_memcg(json::parse(R"({"name":"g1"})").as_object()), "");
}

}  // namespace
}  // namespace tide::vmm
