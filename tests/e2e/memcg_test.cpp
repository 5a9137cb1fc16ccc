// E2E: memory control of tideguests under `tide host`, limits from libvirt domain XML.
//  - swap: a 1 GiB guest with hard_limit 512 MiB fills 768 MiB and verifies every page;
//    its resident memory, sampled every 10 ms through the API, never exceeds 512 MiB
//    (memory.peak says the same for every instant), and swap-out and swap-in both move;
//  - balloon first: a guest holding 512 MiB of cache-like memory (given back on request)
//    gets its max lowered to 256 MiB; the balloon takes the cache back and nothing is swapped;
//  - stop: a guest over its max with no swap and the stop policy is stopped, its memory
//    freed, while another guest keeps running.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "host_fixture.hpp"

namespace tide::test {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
constexpr uint64_t kMiB = 1024 * 1024;

// One GET over the API socket (the sampler cannot afford a `tide ctl` process per sample).
json::value api_get(const std::string& socket_path, const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", socket_path.c_str());
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: tide\r\nConnection: close\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) reply.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  const size_t body = reply.find("\r\n\r\n");
  if (reply.compare(0, 12, "HTTP/1.1 200") != 0 || body == std::string::npos) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(reply.substr(body + 4), ec);
  return ec ? json::value(nullptr) : v;
}

std::string domain(const std::string& name, const std::string& memory, const std::string& memtune,
                   const std::string& script, const std::string& extra_devices, const std::string& metadata = "") {
  return "<domain type='kvm'>\n  <name>" + name + "</name>\n  <memory unit='MiB'>" + memory + "</memory>\n" +
         (metadata.empty() ? "" : "  <metadata>" + metadata + "</metadata>\n") + "  <memtune>" + memtune +
         "</memtune>\n  <vcpu>1</vcpu>\n  <os><type>hvm</type><cmdline>tide.run=\"" + script +
         "\"</cmdline></os>\n  <devices><console type='pty'/>" + extra_devices + "</devices>\n</domain>\n";
}

class MemcgHost : public HostFixture {
 protected:
  MemcgHost() { pool_ = "3G"; }
  json::value memcg(const std::string& name) { return api_get(socket_, "/api/v1/memcg/" + name); }
  void define_and_boot(const std::string& name, const std::string& xml) {
    auto d = ctl({"define", write(name + ".xml", xml)});
    ASSERT_EQ(d.status, 0) << d.output;
    auto b = ctl({"boot", name});
    ASSERT_EQ(b.status, 0) << b.output;
  }
};

TEST_F(MemcgHost, SwapKeepsAGuestUnderItsMaxWithItsDataIntact) {
  define_and_boot("swapper",
                  domain("swapper", "1024", "<hard_limit unit='MiB'>512</hard_limit>",
                         "memfill 768M 7; memverify; echo verified; sleep 600000", "<memballoon model='none'/>"));
  std::atomic<bool> done{false};
  std::atomic<uint64_t> highest{0}, samples{0};
  std::thread sampler([&] {
    while (!done) {
      const uint64_t r = u64(api_get(socket_, "/api/v1/guests/swapper"), {"memory", "resident_bytes"});
      if (r != UINT64_MAX) {
        highest = std::max(highest.load(), r);
        ++samples;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  const bool verified = console_shows("swapper", "verified", seconds(300));
  done = true;
  sampler.join();
  const std::string out = console("swapper");
  ASSERT_TRUE(verified) << out;
  EXPECT_NE(out.find("memverify: pages=196608 intact=196608 zero=0 bad=0"), std::string::npos) << out;
  EXPECT_GT(samples.load(), 50u);
  EXPECT_LE(highest.load(), 512 * kMiB);
  json::value m = memcg("swapper");
  ASSERT_FALSE(m.is_null());
  EXPECT_LE(u64(m, {"peak"}), 512 * kMiB) << json::serialize(m);
  EXPECT_GT(u64(m, {"stat", "swap_out"}), 0u) << json::serialize(m);
  EXPECT_GT(u64(m, {"stat", "swap_in"}), 0u) << json::serialize(m);
  EXPECT_GT(u64(m, {"events", "max"}), 0u) << json::serialize(m);
  auto audit = ctl({"audit"});
  EXPECT_EQ(audit.status, 0) << audit.output;
}

TEST_F(MemcgHost, TheBalloonTakesBackCacheBeforeAnythingIsSwapped) {
  define_and_boot("cachey", domain("cachey", "1024", "",
                                   "memcache 512M; echo cached; serve",
                                   "<memballoon model='virtio'><stats period='1'/></memballoon>"));
  ASSERT_TRUE(console_shows("cachey", "cached", seconds(120))) << console("cachey");
  std::this_thread::sleep_for(seconds(3));  // statistics from the guest
  auto set = ctl({"memcg", "cachey", "set", "max=256M"});
  ASSERT_EQ(set.status, 0) << set.output << console("cachey");
  json::value m = memcg("cachey");
  ASSERT_FALSE(m.is_null());
  EXPECT_LE(u64(m, {"current"}), 256 * kMiB) << json::serialize(m);
  EXPECT_GT(u64(m, {"stat", "reclaimed_balloon"}), 0u) << json::serialize(m);
  EXPECT_EQ(u64(m, {"stat", "swap_out"}), 0u) << json::serialize(m);
  auto audit = ctl({"audit"});
  EXPECT_EQ(audit.status, 0) << audit.output;
}

TEST_F(MemcgHost, StopPolicyStopsOnlyTheGuestOverItsLimit) {
  define_and_boot("steady", domain("steady", "256", "", "echo steady up; memtouch 16M seq 1000000", ""));
  ASSERT_TRUE(console_shows("steady", "memtouch: pass 2/", seconds(60))) << console("steady");
  define_and_boot("greedy",
                  domain("greedy", "512",
                         "<hard_limit unit='MiB'>128</hard_limit><swap_hard_limit unit='MiB'>128</swap_hard_limit>",
                         "memfill 256M 3; echo survived; sleep 600000", "<memballoon model='none'/>",
                         "<tide:memory xmlns:tide='https://tide.dev/xmlns/domain/1.0' oomPolicy='stop'/>"));
  // The greedy guest is stopped with the reason, and never gets past its fill.
  json::value info;
  const auto end = std::chrono::steady_clock::now() + seconds(120);
  while (std::chrono::steady_clock::now() < end) {
    info = ctl_json({"info", "greedy"});
    if (!info.is_null() && info.as_object().at("state") != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(info.is_null());
  EXPECT_NE(info.as_object().at("state"), "running") << json::serialize(info);
  EXPECT_NE(json::serialize(info).find("out of memory"), std::string::npos) << json::serialize(info);
  EXPECT_EQ(console("greedy").find("survived"), std::string::npos);
  // Its memory went back to the pool (a guest that is not running has none); the other
  // guest goes on.
  EXPECT_FALSE(info.as_object().contains("memory")) << json::serialize(info);
  const auto passes = [&] { return console("steady").size(); };
  const size_t before = passes();
  std::this_thread::sleep_for(seconds(2));
  EXPECT_GT(passes(), before) << "the other guest stopped making progress";
  EXPECT_EQ(ctl_json({"info", "steady"}).as_object().at("state"), "running");
  auto audit = ctl({"audit"});
  EXPECT_EQ(audit.status, 0) << audit.output;
}

}  // namespace
}  // namespace tide::test
