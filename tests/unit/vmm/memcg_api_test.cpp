// Unit: the API's memory cgroups (vmm/api/memcg_api.hpp) over a real MemoryManager on the
// fake host layer, called as the HTTP server calls them — GET of every node and of one (by
// guest name, group name or URL-encoded path, with a guest's reclaim state), PUT of limits
// and guest settings, a lowered max that reclaims (swap) or cannot (409, old max kept),
// POST of groups with their parents, DELETE of empty groups only; and every bad request is
// a 400 that leaves the tree and the guests as they were.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "unit/guestmm/mm_fixture.hpp"
#include "vmm/api/memcg_api.hpp"
#include "vmm/machine/machine_memcg.hpp"

namespace tide::vmm::api {
namespace {

namespace json = boost::json;
namespace memcg = gmm::memcg;

constexpr uint64_t kMiB = uint64_t{1} << 20;

class MemcgApiTest : public gmm::fake::MmTest {
 protected:
  void SetUp() override {
    make(64 * kMiB);
    ASSERT_NE(mm, nullptr);
    auto tenant = ensure_memcg_group(mm->memcg(), "/tenant");
    ASSERT_TRUE(tenant) << tenant.error().message();
    gmm::reclaim::GuestLimitsOptions o;
    o.parent = *tenant;
    auto g = mm->add_guest("g1", {gmm::RamRange{gmm::Gpa(0), 32 * kMiB}}, o);
    ASSERT_TRUE(g) << g.error().message();
    g1 = *g;
    guests.push_back(g1);
    g2 = add("g2", 16 * kMiB);
    ASSERT_NE(g2, nullptr);
  }

  MemcgControl control() {
    return MemcgControl(*mm, [this](const std::string& name, const std::function<void(gmm::GuestMm&)>& fn) {
      if (stopped.count(name)) return false;
      for (gmm::GuestMm* g : guests) {
        if (g->name() == name) {
          fn(*g);
          return true;
        }
      }
      return false;
    });
  }

  HttpResponse call(const std::string& method, const std::string& target, const std::string& body = {}) {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    std::vector<std::string> parts;
    const std::string path = target.substr(std::string("/api/v1/").size());
    size_t at = 0;
    while (at <= path.size()) {
      size_t end = path.find('/', at);
      if (end == std::string::npos) end = path.size();
      if (end > at) parts.push_back(path.substr(at, end - at));
      at = end + 1;
    }
    MemcgControl c = control();
    return serve_memcg(c, r, parts);
  }

  // The answer's JSON object (asserting the status).
  json::object ok(const std::string& method, const std::string& target, const std::string& body = {},
                  unsigned status = 200) {
    const HttpResponse r = call(method, target, body);
    EXPECT_EQ(r.status, status) << method << " " << target << " " << body << ": " << r.body;
    if (r.body.empty()) return {};
    return json::parse(r.body).as_object();
  }

  // The error message of a request expected to fail with `status`.
  std::string fails(const std::string& method, const std::string& target, const std::string& body, unsigned status) {
    const HttpResponse r = call(method, target, body);
    EXPECT_EQ(r.status, status) << method << " " << target << " " << body << ": " << r.body;
    auto v = json::parse(r.body);
    return std::string(v.as_object().at("error").as_string());
  }

  memcg::MemcgSettings settings(const std::string& path) {
    auto id = mm->memcg().find_path(path);
    EXPECT_TRUE(id) << path;
    return *mm->memcg().settings(*id);
  }

  gmm::GuestMm* g1 = nullptr;
  gmm::GuestMm* g2 = nullptr;
  std::set<std::string> stopped;  // guests with_guest says have no memory
};

TEST_F(MemcgApiTest, ListsEveryNodeParentsFirst) {
  const json::object o = ok("GET", "/api/v1/memcg");
  const json::array& nodes = o.at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 4u);
  std::vector<std::string> paths;
  for (const auto& n : nodes) paths.emplace_back(n.as_object().at("path").as_string());
  EXPECT_EQ(paths, (std::vector<std::string>{"/", "/tenant", "/tenant/g1", "/g2"}));
  const json::object& root = nodes[0].as_object();
  EXPECT_EQ(root.at("kind"), "root");
  EXPECT_EQ(root.at("settings").as_object().at("max"), 64 * kMiB);  // the pool
  EXPECT_EQ(root.at("settings").as_object().at("swap_max"), "max");
  const json::object& g = nodes[2].as_object();
  EXPECT_EQ(g.at("kind"), "guest");
  EXPECT_EQ(g.at("parent"), "/tenant");
  for (const char* k : {"current", "peak", "swap_current", "swap_peak", "events", "events_local", "stat"}) {
    EXPECT_TRUE(g.contains(k)) << k;
  }
  EXPECT_TRUE(g.at("events").as_object().contains("oom_kill"));
  EXPECT_TRUE(g.at("stat").as_object().contains("resident"));
  EXPECT_FALSE(g.contains("guest")) << "the list has no per-guest reclaim state";
}

TEST_F(MemcgApiTest, OneNodeByGuestGroupOrPath) {
  TIDE_ASSERT_OK(gmm::fake::touch(*g1, gmm::Gfn(0), 1));  // one 2 MiB extent
  json::object g = ok("GET", "/api/v1/memcg/g1");
  EXPECT_EQ(g.at("path"), "/tenant/g1");
  EXPECT_EQ(g.at("current"), 2 * kMiB);
  ASSERT_TRUE(g.contains("guest"));
  const json::object& r = g.at("guest").as_object();
  EXPECT_EQ(r.at("oom_policy"), "stall");
  EXPECT_EQ(r.at("swappiness"), 60);
  EXPECT_EQ(r.at("stalled"), false);
  EXPECT_EQ(r.at("resident"), 2 * kMiB);
  for (const char* k : {"parked_faults", "lru", "sampler", "swap"}) EXPECT_TRUE(r.contains(k)) << k;
  EXPECT_EQ(r.at("swap").as_object().at("size"), 32 * kMiB);  // the guest's RAM

  EXPECT_EQ(ok("GET", "/api/v1/memcg/tenant").at("kind"), "group");
  EXPECT_EQ(ok("GET", "/api/v1/memcg/%2Ftenant").at("path"), "/tenant");
  EXPECT_EQ(ok("GET", "/api/v1/memcg/%2ftenant%2Fg1").at("path"), "/tenant/g1");
  EXPECT_EQ(ok("GET", "/api/v1/memcg/%2F").at("kind"), "root");
  // A guest that has no memory now: its node, without the reclaim state.
  stopped.insert("g2");
  EXPECT_FALSE(ok("GET", "/api/v1/memcg/g2").contains("guest"));

  EXPECT_EQ(fails("GET", "/api/v1/memcg/nope", "", 404), "no memcg called 'nope'");
  EXPECT_EQ(fails("GET", "/api/v1/memcg/%2Fnope", "", 404), "no memcg at '/nope'");
  EXPECT_NE(fails("GET", "/api/v1/memcg/%2", "", 400).find("not a valid URL-encoded"), std::string::npos);
  // A name two nodes share must be given as a path.
  ASSERT_TRUE(mm->memcg().create_group(memcg::kRootId, "g1"));
  EXPECT_EQ(fails("GET", "/api/v1/memcg/g1", "", 400), "2 memcgs are called 'g1'; give the path");
  EXPECT_EQ(call("GET", "/api/v1/memcg/g1/x").status, 404u);
}

TEST_F(MemcgApiTest, PutWritesLimitsAndGuestSettings) {
  const json::object g = ok("PUT", "/api/v1/memcg/g1",
                            R"({"max": "24M", "high": 16777216, "low": "4M", "min": 0, "swap_max": "max",
                                "oom_policy": "stop", "swappiness": 10, "reset_peak": true})");
  const json::object& s = g.at("settings").as_object();
  EXPECT_EQ(s.at("max"), 24 * kMiB);
  EXPECT_EQ(s.at("high"), 16 * kMiB);
  EXPECT_EQ(s.at("low"), 4 * kMiB);
  EXPECT_EQ(s.at("swap_max"), "max");
  EXPECT_EQ(g.at("guest").as_object().at("oom_policy"), "stop");
  const memcg::MemcgSettings t = settings("/tenant/g1");
  EXPECT_EQ(t.max, (24 * kMiB) >> 12);
  EXPECT_EQ(t.high, (16 * kMiB) >> 12);
  EXPECT_EQ(t.low, (4 * kMiB) >> 12);
  EXPECT_EQ(g1->oom_policy(), gmm::reclaim::OomPolicy::stop);
  EXPECT_EQ(g1->swappiness(), 10u);
  // Groups take limits too, by path; "swap.max" is swap_max's other spelling.
  ok("PUT", "/api/v1/memcg/%2Ftenant", R"({"max": "48M", "swap.max": "8M"})");
  EXPECT_EQ(settings("/tenant").max, (48 * kMiB) >> 12);
  EXPECT_EQ(settings("/tenant").swap_max, (8 * kMiB) >> 12);
  // And back to no limit.
  ok("PUT", "/api/v1/memcg/g1", R"({"max": "max", "high": "max"})");
  EXPECT_EQ(settings("/tenant/g1").max, memcg::kUnlimited);
}

TEST_F(MemcgApiTest, ResetPeakBringsPeakToCurrent) {
  for (uint64_t i = 0; i < 3; ++i) TIDE_ASSERT_OK(gmm::fake::touch(*g2, gmm::Gfn(i * 512), 1));
  auto released = g2->release_range(gmm::Gfn(512), 1024, gmm::PageState::empty);
  ASSERT_TRUE(released) << released.error().message();
  json::object g = ok("GET", "/api/v1/memcg/g2");
  EXPECT_EQ(g.at("peak"), 6 * kMiB);
  EXPECT_EQ(g.at("current"), 2 * kMiB);
  g = ok("PUT", "/api/v1/memcg/g2", R"({"reset_peak": true})");
  EXPECT_EQ(g.at("peak"), 2 * kMiB);
}

TEST_F(MemcgApiTest, BadInputIsA400AndChangesNothing) {
  const memcg::MemcgSettings before = settings("/tenant/g1");
  struct Case {
    std::string target;
    std::string body;
    const char* want;
  };
  const Case cases[] = {
      {"g1", "not json", "the body is not JSON"},
      {"g1", "[1]", "the body must be a JSON object"},
      {"g1", "{}", "nothing to change"},
      {"g1", R"({"max": "24M", "swappiness": 300})", "'swappiness' must be an integer from 0 to 200"},
      {"g1", R"({"max": "24M", "oom_policy": "kill"})", "'oom_policy': unknown OOM policy 'kill'"},
      {"g1", R"({"max": 1000})", "'max': 1000 bytes is not a whole number of 4 KiB pages"},
      {"g1", R"({"max": "lots"})", "'max': 'lots' is not a memory amount"},
      {"g1", R"({"max": -1})", "'max' must be bytes"},
      {"g1", R"({"max": 1.5})", "'max' must be bytes"},
      {"g1", R"({"max": "24M", "limit": 1})", "unknown key 'limit'"},
      {"g1", R"({"swap_max": "1M", "swap.max": "2M"})", "'swap.max' is given twice"},
      {"g1", R"({"max": "24M", "reset_peak": "yes"})", "'reset_peak' must be true or false"},
      {"%2Ftenant", R"({"max": "24M", "swappiness": 5})", "oom_policy and swappiness are a guest's settings; /tenant is a group"},
      {"%2F", R"({"low": "4M"})", "memory.low: the root cannot be protected"},
  };
  for (const Case& c : cases) {
    const std::string e = fails("PUT", "/api/v1/memcg/" + c.target, c.body, 400);
    EXPECT_NE(e.find(c.want), std::string::npos) << c.body << ": " << e;
  }
  EXPECT_EQ(settings("/tenant/g1"), before);
  EXPECT_EQ(settings("/tenant"), memcg::MemcgSettings{});
  EXPECT_EQ(settings("/").low, 0u);
  EXPECT_EQ(g1->oom_policy(), gmm::reclaim::OomPolicy::stall);
  EXPECT_EQ(g1->swappiness(), 60u);
  // A guest without memory now takes no guest settings, and nothing else of the request.
  stopped.insert("g1");
  EXPECT_EQ(fails("PUT", "/api/v1/memcg/g1", R"({"max": "24M", "swappiness": 5})", 404), "guest g1 has no memory now");
  EXPECT_EQ(settings("/tenant/g1"), before);
}

TEST_F(MemcgApiTest, LoweringMaxReclaimsBySwap) {
  for (uint64_t i = 0; i < 4; ++i) TIDE_ASSERT_OK(gmm::fake::touch(*g1, gmm::Gfn(i * 512), 1));
  ASSERT_EQ(ok("GET", "/api/v1/memcg/g1").at("current"), 8 * kMiB);
  const json::object g = ok("PUT", "/api/v1/memcg/g1", R"({"max": "4M"})");
  EXPECT_EQ(g.at("settings").as_object().at("max"), 4 * kMiB);
  EXPECT_LE(g.at("current").to_number<uint64_t>(), 4 * kMiB);
  EXPECT_GT(g.at("swap_current").to_number<uint64_t>(), 0u);
  TIDE_ASSERT_OK(check());
}

TEST_F(MemcgApiTest, MaxThatCannotBeMetIsA409AndTheOldMaxStays) {
  for (uint64_t i = 0; i < 4; ++i) TIDE_ASSERT_OK(gmm::fake::touch(*g1, gmm::Gfn(i * 512), 1));
  ok("PUT", "/api/v1/memcg/g1", R"({"max": "16M", "swap_max": 0})");  // nothing may go to swap
  const std::string e = fails("PUT", "/api/v1/memcg/g1", R"({"max": "4M", "high": "2M"})", 409);
  EXPECT_NE(e.find("memory.max of /tenant/g1: usage is still 2048 pages, above 1024"), std::string::npos) << e;
  const memcg::MemcgSettings s = settings("/tenant/g1");
  EXPECT_EQ(s.max, (16 * kMiB) >> 12) << "the old max stays";
  EXPECT_EQ(s.high, memcg::kUnlimited) << "nothing else of the request was applied";
  EXPECT_EQ(ok("GET", "/api/v1/memcg/g1").at("current"), 8 * kMiB);
}

TEST_F(MemcgApiTest, PostMakesGroupsWithTheirParents) {
  json::object n = ok("POST", "/api/v1/memcg", R"({"path": "/acme/team-a"})", 201);
  EXPECT_EQ(n.at("path"), "/acme/team-a");
  n = ok("POST", "/api/v1/memcg", R"({"path": "/acme/team-b"})", 201);
  EXPECT_EQ(n.at("path"), "/acme/team-b");
  EXPECT_EQ(n.at("kind"), "group");
  EXPECT_TRUE(mm->memcg().find_path("/acme/team-a"));
  EXPECT_EQ(fails("POST", "/api/v1/memcg", R"({"path": "/acme/team-a"})", 409), "memcg group /acme/team-a already exists");
  EXPECT_EQ(fails("POST", "/api/v1/memcg", R"({"path": "/"})", 409), "the root memcg always exists");
  EXPECT_NE(fails("POST", "/api/v1/memcg", R"({"path": "/tenant/g1/x"})", 400).find("/tenant/g1 is a guest, not a group"),
            std::string::npos);
  EXPECT_NE(fails("POST", "/api/v1/memcg", R"({"path": "acme"})", 400).find("starts with '/'"), std::string::npos);
  EXPECT_NE(fails("POST", "/api/v1/memcg", R"({"name": "/x"})", 400).find("{\"path\": \"/tenant\"}"), std::string::npos);
  EXPECT_EQ(call("PUT", "/api/v1/memcg", "{}").status, 405u);
  EXPECT_EQ(mm->memcg().size(), 7u);  // root, tenant, g1, g2, acme, team-a, team-b
}

TEST_F(MemcgApiTest, DeleteRemovesEmptyGroupsOnly) {
  ok("POST", "/api/v1/memcg", R"({"path": "/acme/team"})", 201);
  EXPECT_NE(fails("DELETE", "/api/v1/memcg/acme", "", 409).find("has 1 children"), std::string::npos);
  EXPECT_EQ(call("DELETE", "/api/v1/memcg/%2Facme%2Fteam").status, 204u);
  EXPECT_EQ(call("DELETE", "/api/v1/memcg/acme").status, 204u);
  EXPECT_FALSE(mm->memcg().find_path("/acme"));
  EXPECT_EQ(fails("DELETE", "/api/v1/memcg/g1", "", 409), "/tenant/g1 is guest g1's memcg: it goes when the guest stops");
  EXPECT_NE(fails("DELETE", "/api/v1/memcg/tenant", "", 409).find("has 1 children"), std::string::npos);
  EXPECT_EQ(fails("DELETE", "/api/v1/memcg/%2F", "", 400), "the root memcg cannot be removed");
  EXPECT_EQ(fails("DELETE", "/api/v1/memcg/acme", "", 404), "no memcg called 'acme'");
}

TEST(UrlDecode, EscapesAndMistakes) {
  EXPECT_EQ(url_decode("%2Ftenant%2fteam"), "/tenant/team");
  EXPECT_EQ(url_decode("g1"), "g1");
  EXPECT_EQ(url_decode("a%20b"), "a b");
  EXPECT_FALSE(url_decode("%2"));
  EXPECT_FALSE(url_decode("%zz"));
  EXPECT_FALSE(url_decode("%00"));
  EXPECT_FALSE(url_decode("abc%"));
}

TEST(MemcgRequests, WritesMayBlock) {
  HttpRequest r;
  r.method = "GET";
  EXPECT_FALSE(memcg_request_may_block(r));
  for (const char* m : {"PUT", "POST", "DELETE"}) {
    r.method = m;
    EXPECT_TRUE(memcg_request_may_block(r)) << m;
  }
}

}  // namespace
}  // namespace tide::vmm::api
