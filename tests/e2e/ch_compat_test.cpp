// E2E: tide answering as Cloud Hypervisor (`cloud-hypervisor` symlink / `tide ch-compat`)
// to the exact requests libvirt's ch driver sends (fixtures/libvirt_ch_session.txt), over
// one kept-alive connection with chunked bodies and `Expect: 100-continue` as libcurl does
// it: every step answers 200/204, vm.info reports the state and the console PTY, the guest
// really runs (its console on the PTY says TIDEGUEST READY), and vmm.shutdown ends the process.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e_util.hpp"

namespace tide::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

struct FixtureRequest {
  std::string method, path;
  bool chunked = false;
  std::vector<std::string> headers;
  std::string body;
};

std::vector<FixtureRequest> load_fixture(const std::string& kernel, const std::string& cmdline) {
  std::ifstream f(std::string(TIDE_SOURCE_DIR) + "/tests/e2e/fixtures/libvirt_ch_session.txt");
  std::vector<FixtureRequest> out;
  std::string line;
  bool in_headers = false;
  while (std::getline(f, line)) {
    if (line.rfind("#", 0) == 0 && line.rfind("###", 0) != 0) continue;
    if (line.rfind("### ", 0) == 0) {
      std::istringstream s(line.substr(4));
      FixtureRequest r;
      std::string flag;
      s >> r.method >> r.path >> flag;
      r.chunked = flag == "chunked";
      out.push_back(r);
      in_headers = true;
      continue;
    }
    if (out.empty()) continue;
    if (in_headers) {
      if (line.empty()) in_headers = false;
      else out.back().headers.push_back(line);
    } else if (!line.empty()) {
      size_t at;
      while ((at = line.find("@KERNEL@")) != std::string::npos) line.replace(at, 8, kernel);
      while ((at = line.find("@CMDLINE@")) != std::string::npos) line.replace(at, 9, cmdline);
      out.back().body = line;
    }
  }
  return out;
}

// A raw HTTP/1.1 connection that behaves like libcurl for these requests.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return ok_; }
  void send(const std::string& s) { ASSERT_EQ(::write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  // One response (status line, headers, Content-Length body).
  std::pair<int, std::string> response() {
    while (buf_.find("\r\n\r\n") == std::string::npos && fill()) {
    }
    size_t end = buf_.find("\r\n\r\n");
    if (end == std::string::npos) return {-1, ""};
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    int status = std::atoi(head.c_str() + 9);
    size_t len = 0;
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto at = lower.find("content-length:"); at != std::string::npos) len = std::strtoul(lower.c_str() + at + 15, nullptr, 10);
    while (buf_.size() < len && fill()) {
    }
    std::string body = buf_.substr(0, len);
    buf_.erase(0, len);
    return {status, body};
  }

 private:
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 60000) <= 0) return false;
    char b[4096];
    ssize_t n = ::read(fd_, b, sizeof b);
    if (n <= 0) return false;
    buf_.append(b, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
};

std::pair<int, std::string> send_request(RawClient& c, const FixtureRequest& r) {
  std::string head = r.method + " " + r.path + " HTTP/1.1\r\nHost: localhost\r\n";
  for (const auto& h : r.headers) head += h + "\r\n";
  if (!r.chunked) head += "content-length: " + std::to_string(r.body.size()) + "\r\n";
  head += "\r\n";
  if (!r.chunked) {
    c.send(head + r.body);
    return c.response();
  }
  // libcurl sends the header, waits for "100 Continue", then the (empty) chunked body.
  c.send(head);
  auto interim = c.response();
  EXPECT_EQ(interim.first, 100) << r.path;
  c.send("0\r\n\r\n");
  return c.response();
}

std::string state_of(const std::string& info) {
  auto at = info.find("\"state\":\"");
  if (at == std::string::npos) return "";
  return info.substr(at + 9, info.find('"', at + 9) - at - 9);
}

std::string pty_of(const std::string& info) {
  auto at = info.find("\"file\":\"");
  if (at == std::string::npos) return "";
  return info.substr(at + 8, info.find('"', at + 8) - at - 8);
}

TEST(ChCompat, VersionAsLibvirtExpectsIt) {
  auto dir = fs::temp_directory_path() / ("tide-ch-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto link = dir / "cloud-hypervisor";
  fs::remove(link);
  fs::create_symlink(kTide, link);
  auto r = run_command({link.string(), "--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "cloud-hypervisor v30.0.0\n");
  auto r2 = run_command({kTide, "ch-compat", "--version"});
  EXPECT_EQ(r2.out, "cloud-hypervisor v30.0.0\n");
  fs::remove_all(dir);
}

TEST(ChCompat, TheLibvirtSessionSequence) {
  TIDE_REQUIRE_KVM();
  auto dir = fs::temp_directory_path() / ("tide-chs-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string sock = (dir / "ch.sock").string();
  Process vmm({kTide, "ch-compat", "--api-socket", "path=" + sock});
  ASSERT_TRUE(vmm.wait_for_output("ready", seconds(60))) << vmm.output();
  RawClient c(sock);
  ASSERT_TRUE(c.connected());
  auto requests = load_fixture(kTideguest, "tide.run=\\\"echo ch session; sleep 600000\\\"");
  ASSERT_EQ(requests.size(), 7u);

  for (const FixtureRequest& r : requests) {
    auto [status, body] = send_request(c, r);
    SCOPED_TRACE(r.method + " " + r.path + " -> " + std::to_string(status) + " " + body);
    ASSERT_TRUE(status == 200 || status == 204) << vmm.output();
    if (r.path == "/api/v1/vm.info") {
      EXPECT_EQ(status, 200);
      EXPECT_EQ(state_of(body), "Running");
      const std::string pty = pty_of(body);
      ASSERT_EQ(pty.rfind("/dev/pts/", 0), 0u) << body;
      // The guest runs and writes to the PTY libvirt would attach to.
      int fd = ::open(pty.c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC);
      ASSERT_GE(fd, 0);
      std::string seen;
      for (int i = 0; i < 600 && seen.find("ch session") == std::string::npos; ++i) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) > 0) {
          char b[512];
          ssize_t n = ::read(fd, b, sizeof b);
          if (n > 0) seen.append(b, static_cast<size_t>(n));
        }
      }
      ::close(fd);
      EXPECT_NE(seen.find("TIDEGUEST READY"), std::string::npos) << seen;
      EXPECT_NE(seen.find("ch session"), std::string::npos) << seen;
    } else {
      EXPECT_EQ(status, 204);
    }
    // Check the state after each action with a plain GET on the same connection.
    FixtureRequest info{"GET", "/api/v1/vm.info", false, {"accept: application/json"}, ""};
    auto [s2, b2] = send_request(c, info);
    ASSERT_EQ(s2, 200);
    if (r.path == "/api/v1/vm.pause") {
      EXPECT_EQ(state_of(b2), "Paused");
    }
    if (r.path == "/api/v1/vm.resume" || r.path == "/api/v1/vm.reboot" || r.path == "/api/v1/vm.boot") {
      EXPECT_EQ(state_of(b2), "Running");
    }
    if (r.path == "/api/v1/vm.shutdown") {
      EXPECT_EQ(state_of(b2), "Shutdown");
    }
  }
  // Devices tide does not have were accepted with a warning, not an error.
  EXPECT_NE(vmm.output().find("disks: tide has no such devices"), std::string::npos) << vmm.output();
  // vm.delete and vmm.shutdown end the process cleanly.
  auto [ds, db] = send_request(c, FixtureRequest{"PUT", "/api/v1/vm.delete", true, {"accept: */*", "transfer-encoding: chunked", "expect: 100-continue"}, ""});
  EXPECT_EQ(ds, 204) << db;
  auto [ps, pb] = send_request(c, FixtureRequest{"GET", "/api/v1/vmm.ping", false, {"accept: application/json"}, ""});
  EXPECT_EQ(ps, 200);
  EXPECT_NE(pb.find("\"version\":\"30.0.0\""), std::string::npos) << pb;
  auto [ss, sb] = send_request(c, FixtureRequest{"PUT", "/api/v1/vmm.shutdown", true, {"accept: */*", "transfer-encoding: chunked", "expect: 100-continue"}, ""});
  EXPECT_EQ(ss, 204) << sb;
  EXPECT_EQ(vmm.wait(seconds(60)), 0) << vmm.output();
  fs::remove_all(dir);
}

TEST(ChCompat, BadRequestsAreClearErrors) {
  TIDE_REQUIRE_KVM();
  auto dir = fs::temp_directory_path() / ("tide-chb-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string sock = (dir / "ch.sock").string();
  Process vmm({kTide, "ch-compat", "--api-socket", "path=" + sock});
  ASSERT_TRUE(vmm.wait_for_output("ready", seconds(60))) << vmm.output();
  RawClient c(sock);
  auto put = [&](const std::string& path, const std::string& body) {
    return send_request(c, FixtureRequest{"PUT", path, false, {"content-type: application/json"}, body});
  };
  auto [s1, b1] = put("/api/v1/vm.boot", "");
  EXPECT_EQ(s1, 409) << b1;  // nothing created yet
  auto [s2, b2] = put("/api/v1/vm.create", "{not json");
  EXPECT_EQ(s2, 400) << b2;
  auto [s3, b3] = put("/api/v1/vm.create", R"({"memory":{"size":268435456}})");
  EXPECT_EQ(s3, 400) << b3;  // no kernel
  EXPECT_NE(b3.find("kernel"), std::string::npos);
  auto [s4, b4] = put("/api/v1/vm.create", R"({"memory":{"size":268435456,"hotplug_size":1073741824},"kernel":{"path":"/k"}})");
  EXPECT_EQ(s4, 400) << b4;  // memory settings tide cannot honour are refused
  auto [s5, b5] = put("/api/v1/vm.create", std::string(R"({"memory":{"size":268435456},"payload":{"kernel":")") + kTideguest + "\"}}");
  EXPECT_EQ(s5, 204) << b5;  // the payload form
  auto [s6, b6] = put("/api/v1/vm.create", std::string(R"({"memory":{"size":268435456},"payload":{"kernel":")") + kTideguest + "\"}}");
  EXPECT_EQ(s6, 409) << b6;  // one VM per process
  auto [s7, b7] = put("/api/v1/vm.resize", R"({"desired_balloon":134217728})");
  EXPECT_EQ(s7, 501) << b7;
  auto [s8, b8] = send_request(c, FixtureRequest{"GET", "/api/v1/nosuch", false, {}, ""});
  EXPECT_EQ(s8, 404) << b8;
  vmm.kill(SIGTERM);
  EXPECT_EQ(vmm.wait(seconds(60)), 0) << vmm.output();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tide::test
