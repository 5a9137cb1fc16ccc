// Helpers for the HTTP transport tests: a temporary directory, a server whose io_context
// runs on its own thread, and a raw Unix-socket client that reads and writes the exact
// bytes on the wire. Waits are bounded by generous guards so a broken server fails a
// test instead of hanging it; no assertion depends on how fast anything happens.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "guestmm/base/unique_fd.hpp"
#include "support/temp_dir.hpp"
#include "vmm/api/http.hpp"

namespace tide::vmm::api::test {

using namespace std::chrono_literals;

// How long a test waits for something that should happen promptly before calling it a
// failure. Far above any timeout the tests configure.
constexpr std::chrono::seconds kGuard{20};


// Polls `condition` until it holds or kGuard passes.
inline bool eventually(const std::function<bool()>& condition) {
  auto end = std::chrono::steady_clock::now() + kGuard;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

inline sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof addr.sun_path - 1));
  return addr;
}

// A Unix stream socket bound at `path` (listening if `listen`), as another program or a
// crashed one would leave it.
inline UniqueFd bind_socket_at(const std::string& path, bool listen) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr = unix_address(path);
  // sockaddr_un to sockaddr: the sockets API's own convention.
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  if (listen) {
    EXPECT_EQ(::listen(fd.get(), 16), 0);
  }
  return fd;
}

struct RawResponse {
  unsigned status = 0;
  std::string status_line;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  [[nodiscard]] bool has(const std::string& name) const { return headers.count(name) != 0; }
};

class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr = unix_address(path);
    connected_ = ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  [[nodiscard]] bool connected() const { return connected_; }

  bool send(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // One response: status line, header, then a Content-Length body unless `with_body` is
  // false (the answer to HEAD). nullopt if the connection ends (or kGuard passes) first.
  std::optional<RawResponse> read_response(bool with_body = true) {
    size_t end = 0;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    RawResponse r;
    std::string head = pending_.substr(0, end);
    pending_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    r.status_line = head.substr(0, line_end);
    if (r.status_line.size() < 12 || r.status_line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
    r.status = static_cast<unsigned>(std::stoul(r.status_line.substr(9, 3)));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = next + 2;
    }
    size_t length = with_body && r.has("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (pending_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    r.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return r;
  }

  // True once the server has closed the connection (end of file or reset) with nothing
  // more to read; false if bytes arrive instead or kGuard passes.
  bool wait_closed() {
    if (!pending_.empty()) return false;
    char c = 0;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kGuard).count())) <= 0) return false;
    ssize_t n = ::recv(fd_.get(), &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  // True if nothing arrived and the connection is still open after `quiet`.
  bool silent_for(std::chrono::milliseconds quiet) {
    pollfd p{fd_.get(), POLLIN, 0};
    return pending_.empty() && ::poll(&p, 1, static_cast<int>(quiet.count())) == 0;
  }

  void close() { fd_.reset(); }

 private:
  bool fill() {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kGuard).count())) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  UniqueFd fd_;
  bool connected_ = false;
  std::string pending_;
};

// What a handler saw, for assertions from the test thread.
class RequestLog {
 public:
  void add(const HttpRequest& r) {
    std::lock_guard lock(mutex_);
    requests_.push_back(r);
  }
  [[nodiscard]] std::vector<HttpRequest> all() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  [[nodiscard]] size_t size() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<HttpRequest> requests_;
};

// A handler that keeps every Responder for the test to call later (or never).
class KeptResponders {
 public:
  HttpHandler handler() {
    return [this](HttpRequest, Responder respond) {
      std::lock_guard lock(mutex_);
      responders_.push_back(std::move(respond));
    };
  }
  [[nodiscard]] size_t size() const {
    std::lock_guard lock(mutex_);
    return responders_.size();
  }
  [[nodiscard]] Responder at(size_t i) const {
    std::lock_guard lock(mutex_);
    return responders_.at(i);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Responder> responders_;
};

// Threads a handler starts to answer later; joined when the test ends.
class Workers {
 public:
  ~Workers() { join(); }
  void spawn(std::function<void()> work) {
    std::lock_guard lock(mutex_);
    threads_.emplace_back(std::move(work));
  }
  void join() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

// Echoes "METHOD TARGET\nBODY" as text/plain, 200.
inline HttpResponse echo(const HttpRequest& r) {
  HttpResponse out;
  out.content_type = "text/plain";
  out.body = r.method + " " + r.target + "\n" + r.body;
  return out;
}

// A server at <tmp>/api.sock with its io_context on a thread of its own. What handlers
// refer to lives in the fixture, so it outlives the server (stopped first on teardown).
class ServerFixture : public ::testing::Test {
 protected:
  ServerFixture() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~ServerFixture() override {
    server_.reset();
    workers_.join();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Starts a server that logs each request and answers with `answer` (echo by default).
  void start(HttpLimits limits = {}, std::function<HttpResponse(const HttpRequest&)> answer = echo) {
    start_raw(limits, [this, answer](HttpRequest r, Responder respond) {
      log_.add(r);
      respond(answer(r));
    });
  }
  void start_raw(HttpLimits limits, HttpHandler handler) {
    auto s = HttpServer::listen(io_, path_, std::move(handler), limits);
    ASSERT_TRUE(s) << s.error().message();
    server_ = std::move(*s);
  }

  tide::test::TempDir dir_{"tide-http"};
  std::string path_ = dir_.path() + "/api.sock";
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  RequestLog log_;
  KeptResponders kept_;
  Workers workers_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace tide::vmm::api::test
