// Unit: the QMP client against a scripted fake QEMU on a Unix socket: the greeting and
// capabilities handshake, events skipped, answers matched by id, command errors, closed
// connections, timeouts and connect retries.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"
#include "vmm/bench/qmp_client.hpp"

namespace tide::vmm::bench {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;


// A fake QMP server: listens on `path`, accepts one client, sends the greeting, then for
// every line it reads calls `answer(request)`, which returns what to send back (any
// number of lines, possibly none). An empty optional closes the connection.
class FakeQemu {
 public:
  using Answer = std::function<std::optional<std::string>(const json::object& request)>;
  FakeQemu(std::string path, Answer answer, std::chrono::milliseconds listen_after = 0ms)
      : path_(std::move(path)), answer_(std::move(answer)) {
    thread_ = std::thread([this, listen_after] { serve(listen_after); });
  }
  ~FakeQemu() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  static std::string greeting() {
    return R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}})"
           "\r\n";
  }
  static std::string ret(const json::object& request, const std::string& value) {
    return R"({"return": )" + value + R"(, "id": ")" + std::string(request.at("id").as_string()) + "\"}\r\n";
  }

 private:
  void serve(std::chrono::milliseconds listen_after) {
    std::this_thread::sleep_for(listen_after);
    int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    // The usual sockaddr cast of the socket API.
    if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(ls, 1) != 0) {
      ADD_FAILURE() << "fake QEMU cannot listen on " << path_;
      ::close(ls);
      return;
    }
    // Polls, so a test that failed before connecting does not leave this thread blocked.
    if (!readable(ls)) {
      ::close(ls);
      return;
    }
    int fd = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(ls);
    if (fd < 0) return;
    send(fd, greeting());
    std::string buffer;
    char chunk[4096];
    while (!stop_) {
      const size_t nl = buffer.find('\n');
      if (nl == std::string::npos) {
        if (!readable(fd)) break;
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        buffer.append(chunk, static_cast<size_t>(n));
        continue;
      }
      json::object request = json::parse(buffer.substr(0, nl)).as_object();
      buffer.erase(0, nl + 1);
      auto reply = answer_(request);
      if (!reply) break;
      send(fd, *reply);
    }
    ::close(fd);
  }
  // Waits until `fd` is readable; false once the test is over.
  bool readable(int fd) const {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }
  static void send(int fd, const std::string& text) { (void)!::write(fd, text.data(), text.size()); }

  std::string path_;
  Answer answer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string command_of(const json::object& r) { return std::string(r.at("execute").as_string()); }

TEST(QmpClient, HandshakeThenCommandsWithArgumentsSkippingEvents) {
  tide::test::TempDir dir("tide-qmp");
  const std::string sock = dir.path() + "/qmp.sock";
  std::vector<json::object> seen;
  {
    FakeQemu qemu(sock, [&](const json::object& r) -> std::optional<std::string> {
      seen.push_back(r);
      const std::string c = command_of(r);
      if (c == "qmp_capabilities") return FakeQemu::ret(r, "{}");
      if (c == "query-balloon") {
        return std::string(R"({"event": "BALLOON_CHANGE", "data": {"actual": 1}, "timestamp": {}})") + "\r\n" +
               FakeQemu::ret(r, R"({"actual": 805306368})");
      }
      if (c == "balloon") return FakeQemu::ret(r, "{}");
      return std::nullopt;
    });
    auto client = QmpClient::connect(sock, QmpClient::Clock::now() + 20s);
    ASSERT_TRUE(client) << client.error().message();
    EXPECT_EQ(client->qemu_version(), "7.2.22");
    auto b = client->execute("query-balloon");
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->at("actual").as_int64(), 805306368);
    EXPECT_EQ(client->events_skipped(), 1u);
    auto set = client->execute("balloon", json::object{{"value", 536870912}});
    ASSERT_TRUE(set) << set.error().message();
    EXPECT_TRUE(set->is_object());
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(command_of(seen[0]), "qmp_capabilities");
  EXPECT_FALSE(seen[0].contains("arguments"));  // none given, none sent
  EXPECT_EQ(seen[2].at("arguments").at("value").as_int64(), 536870912);
  // Each command carries its own id.
  EXPECT_NE(seen[1].at("id"), seen[2].at("id"));
}

TEST(QmpClient, ACommandErrorCarriesItsDescription) {
  tide::test::TempDir dir("tide-qmp");
  const std::string sock = dir.path() + "/qmp.sock";
  FakeQemu qemu(sock, [](const json::object& r) -> std::optional<std::string> {
    if (command_of(r) == "qmp_capabilities") return FakeQemu::ret(r, "{}");
    return R"({"error": {"class": "DeviceNotActive", "desc": "No balloon device has been activated"}, "id": ")" +
           std::string(r.at("id").as_string()) + "\"}\r\n";
  });
  auto client = QmpClient::connect(sock, QmpClient::Clock::now() + 20s);
  ASSERT_TRUE(client) << client.error().message();
  auto b = client->execute("query-balloon");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(b.error().message(), "QMP query-balloon: No balloon device has been activated");
}

TEST(QmpClient, ALateAnswerIsNotTakenForTheNextCommand) {
  tide::test::TempDir dir("tide-qmp");
  const std::string sock = dir.path() + "/qmp.sock";
  std::string late_id;
  FakeQemu qemu(sock, [&](const json::object& r) -> std::optional<std::string> {
    const std::string c = command_of(r);
    if (c == "qmp_capabilities") return FakeQemu::ret(r, "{}");
    if (c == "slow") {  // answered only together with the next command
      late_id = std::string(r.at("id").as_string());
      return std::string();
    }
    return R"({"return": "stale", "id": ")" + late_id + "\"}\r\n" + FakeQemu::ret(r, "\"fresh\"");
  });
  auto client = QmpClient::connect(sock, QmpClient::Clock::now() + 20s);
  ASSERT_TRUE(client) << client.error().message();
  auto slow = client->execute("slow", {}, 100ms);
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, std::make_error_code(std::errc::timed_out));
  EXPECT_NE(slow.error().message().find("no answer to 'slow' in time"), std::string::npos) << slow.error().message();
  auto next = client->execute("query-status");
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(next->as_string(), "fresh");
}

TEST(QmpClient, AClosedConnectionIsAClearError) {
  tide::test::TempDir dir("tide-qmp");
  const std::string sock = dir.path() + "/qmp.sock";
  FakeQemu qemu(sock, [](const json::object& r) -> std::optional<std::string> {
    if (command_of(r) == "qmp_capabilities") return FakeQemu::ret(r, "{}");
    return std::nullopt;  // QEMU went away
  });
  auto client = QmpClient::connect(sock, QmpClient::Clock::now() + 20s);
  ASSERT_TRUE(client) << client.error().message();
  auto q = client->execute("quit");
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, std::make_error_code(std::errc::broken_pipe));
  EXPECT_NE(q.error().message().find("QEMU closed the connection"), std::string::npos) << q.error().message();
}

TEST(QmpClient, RetriesUntilTheSocketAppears) {
  tide::test::TempDir dir("tide-qmp");
  const std::string sock = dir.path() + "/qmp.sock";
  FakeQemu qemu(
      sock, [](const json::object& r) -> std::optional<std::string> { return FakeQemu::ret(r, "{}"); }, 200ms);
  auto client = QmpClient::connect(sock, QmpClient::Clock::now() + 20s);
  ASSERT_TRUE(client) << client.error().message();
}

TEST(QmpClient, GivesUpAtTheDeadlineOrWhenToldTo) {
  tide::test::TempDir dir("tide-qmp");
  const std::string sock = dir.path() + "/nobody.sock";
  auto late = QmpClient::connect(sock, QmpClient::Clock::now() + 100ms);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, std::make_error_code(std::errc::timed_out));
  EXPECT_NE(late.error().message().find(sock), std::string::npos);

  int asked = 0;
  auto stopped = QmpClient::connect(sock, QmpClient::Clock::now() + 20s, [&] { return ++asked < 3; });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, std::make_error_code(std::errc::connection_aborted));
  EXPECT_EQ(asked, 3);

  auto too_long = QmpClient::connect("/tmp/" + std::string(120, 'x'), QmpClient::Clock::now() + 20s);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, std::make_error_code(std::errc::filename_too_long));
}

TEST(QmpClient, APeerThatIsNotQmpIsRefused) {
  tide::test::TempDir dir("tide-qmp");
  const std::string sock = dir.path() + "/qmp.sock";
  std::thread server([&] {
    int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    sock.copy(addr.sun_path, sizeof addr.sun_path - 1);
    // The usual sockaddr cast of the socket API.
    ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(ls, 1), 0);
    int fd = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
    const std::string hello = "{\"hello\": 1}\r\n";
    (void)!::write(fd, hello.data(), hello.size());
    char c;
    (void)!::read(fd, &c, 1);  // until the client hangs up
    ::close(fd);
    ::close(ls);
  });
  auto client = QmpClient::connect(sock, QmpClient::Clock::now() + 20s);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, std::make_error_code(std::errc::bad_message));
  EXPECT_NE(client.error().message().find("did not greet as QMP"), std::string::npos);
  server.join();
}

}  // namespace
}  // namespace tide::vmm::bench
