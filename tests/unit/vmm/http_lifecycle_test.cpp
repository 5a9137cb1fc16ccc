// Unit: HttpServer's life cycle and threads — Responders called from other threads, late,
// twice or never; stop() from another thread, from inside a handler and while a handler
// runs; the socket file (mode, stale file replaced, non-socket and live server refused);
// adopt() of an inherited listening fd; many clients at once.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>

#include "tests/unit/vmm/http_test_support.hpp"

namespace tide::vmm::api::test {
namespace {

using HttpLifecycleTest = ServerFixture;

TEST_F(HttpLifecycleTest, HandlerAnswersFromAnotherThreadAfterADelay) {
  start_raw({}, [this](HttpRequest r, Responder respond) {
    workers_.spawn([r = std::move(r), respond = std::move(respond)] {
      std::this_thread::sleep_for(200ms);
      respond(HttpResponse{201, "application/json", "{\"late\":\"" + r.target + "\"}"});
    });
  });
  auto r = http_request(path_, "PUT", "/api/v1/vm.boot");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 201u);
  EXPECT_EQ(r->body, "{\"late\":\"/api/v1/vm.boot\"}");
}

TEST_F(HttpLifecycleTest, ResponderAfterTheClientLeftIsHarmless) {
  start_raw({}, kept_.handler());
  {
    RawClient c(path_);
    ASSERT_TRUE(c.send("GET /gone HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return kept_.size() == 1; }));
  }
  kept_.at(0)(HttpResponse{200, "text/plain", "nobody reads this"});
  EXPECT_TRUE(eventually([&] { return server_->connections() == 0; }));
  kept_.at(0)(HttpResponse{200, "text/plain", "nor this"});  // again, connection long gone

  // The server is unaffected.
  RawClient next(path_);
  ASSERT_TRUE(next.send("GET /next HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return kept_.size() == 2; }));
  kept_.at(1)(HttpResponse{200, "text/plain", "ok"});
  auto r = next.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ok");
}

TEST_F(HttpLifecycleTest, SecondCallOfAResponderIsIgnored) {
  start_raw({}, [](HttpRequest r, Responder respond) {
    respond(echo(r));
    respond(HttpResponse{500, "text/plain", "duplicate"});
  });
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET /one HTTP/1.1\r\n\r\n"));
  auto first = c.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body, "GET /one\n");
  ASSERT_TRUE(c.send("GET /two HTTP/1.1\r\n\r\n"));
  auto second = c.read_response();  // the answer to /two, not the duplicate of /one
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200u);
  EXPECT_EQ(second->body, "GET /two\n");
}

TEST_F(HttpLifecycleTest, StopClosesOpenConnectionsAndReleasesTheHandler) {
  auto sentinel = std::make_shared<int>(0);
  std::weak_ptr<int> handler_state = sentinel;
  start_raw({}, [sentinel, inner = kept_.handler()](HttpRequest r, Responder respond) {
    if (r.target == "/wait") return inner(std::move(r), std::move(respond));
    respond(echo(r));
  });
  sentinel.reset();

  RawClient idle(path_);  // served once, now between requests
  ASSERT_TRUE(idle.send("GET /x HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(idle.read_response());
  RawClient partial(path_);  // in the middle of a request
  ASSERT_TRUE(partial.send("PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n12"));
  RawClient waiting(path_);  // its handler has not answered
  ASSERT_TRUE(waiting.send("GET /wait HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return kept_.size() == 1 && server_->connections() == 3; }));

  server_->stop();  // from the test thread; the io_context runs on another
  EXPECT_TRUE(handler_state.expired());  // the handler is gone: it cannot run again
  EXPECT_TRUE(idle.wait_closed());
  EXPECT_TRUE(partial.wait_closed());
  EXPECT_TRUE(waiting.wait_closed());
  EXPECT_TRUE(eventually([&] { return server_->connections() == 0; }));
  kept_.at(0)(HttpResponse{});  // after stop: dropped
  EXPECT_FALSE(std::filesystem::exists(path_));  // the socket file went with the server
  EXPECT_FALSE(RawClient(path_).connected());
  server_->stop();  // twice is fine
}

TEST_F(HttpLifecycleTest, StopWaitsForARunningHandler) {
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  std::atomic<bool> finished{false};
  start_raw({}, [&](HttpRequest, Responder respond) {
    entered = true;
    while (!release) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);
    finished = true;
    respond(HttpResponse{204, "", ""});
  });
  RawClient c(path_);
  ASSERT_TRUE(c.send("PUT /busy HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  std::atomic<bool> finished_when_stop_returned{false};
  std::thread stopper([&] {
    server_->stop();
    finished_when_stop_returned = finished.load();
  });
  release = true;
  stopper.join();
  EXPECT_TRUE(finished_when_stop_returned);
  EXPECT_TRUE(c.wait_closed());  // the answer was dropped: the server had stopped
}

TEST_F(HttpLifecycleTest, StopFromInsideTheHandler) {
  std::atomic<HttpServer*> self{nullptr};
  std::atomic<int> calls{0};
  start_raw({}, [&](HttpRequest, Responder respond) {
    ++calls;
    self.load()->stop();  // must not wait for itself
    respond(HttpResponse{200, "text/plain", "late"});
  });
  self = server_.get();
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET /stop HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(RawClient(path_).connected());
}

TEST_F(HttpLifecycleTest, DestroyingTheServerStopsIt) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
  server_.reset();
  EXPECT_TRUE(c.wait_closed());
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(HttpLifecycleTest, ManyClientsAtOnce) {
  start();
  constexpr int kClients = 12;
  constexpr int kRequests = 10;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      for (int j = 0; j < kRequests; ++j) {
        std::string target = "/c" + std::to_string(i) + "/" + std::to_string(j);
        auto r = http_request(path_, "PUT", target, "body");
        if (r && r->status == 200 && r->body == "PUT " + target + "\nbody") ++good;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kClients * kRequests);
  EXPECT_EQ(log_.size(), static_cast<size_t>(kClients * kRequests));
}

TEST_F(HttpLifecycleTest, SocketFileIsPrivate) {
  start();
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(HttpLifecycleTest, StaleSocketFileIsReplaced) {
  bind_socket_at(path_, /*listen=*/false);  // closed at once: what a crashed host leaves
  ASSERT_TRUE(std::filesystem::is_socket(path_));
  start();
  auto r = http_request(path_, "GET", "/fresh");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "GET /fresh\n");
}

TEST_F(HttpLifecycleTest, RegularFileAtThePathIsRefused) {
  { std::ofstream(path_) << "precious"; }
  auto s = HttpServer::listen(io_, path_, [](HttpRequest, Responder) {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), path_ + " exists and is not a socket; remove it or choose another path");
  std::ifstream in(path_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(HttpLifecycleTest, LiveServerAtThePathIsRefused) {
  start();
  auto second = HttpServer::listen(io_, path_, [](HttpRequest, Responder) {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().message(), "another server is already listening on " + path_);
  auto r = http_request(path_, "GET", "/still-first");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "GET /still-first\n");

  UniqueFd foreign = bind_socket_at(dir_.path() + "/foreign.sock", /*listen=*/true);
  EXPECT_FALSE(HttpServer::listen(io_, dir_.path() + "/foreign.sock", [](HttpRequest, Responder) {}));
}

TEST_F(HttpLifecycleTest, OverlongPathIsRefused) {
  auto s = HttpServer::listen(io_, dir_.path() + "/" + std::string(120, 'x'), [](HttpRequest, Responder) {});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("is too long"), std::string::npos) << s.error().message();
}

TEST_F(HttpLifecycleTest, AdoptServesAnInheritedListeningSocket) {
  std::string adopted_path = dir_.path() + "/libvirt.sock";
  UniqueFd fd = bind_socket_at(adopted_path, /*listen=*/true);
  RequestLog seen;
  auto s = HttpServer::adopt(io_, fd.release(), [&seen](HttpRequest r, Responder respond) {
    seen.add(r);
    respond(HttpResponse{204, "", ""});
  });
  ASSERT_TRUE(s) << s.error().message();
  auto r = http_request(adopted_path, "PUT", "/api/v1/vm.boot");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 204u);
  EXPECT_EQ(r->body, "");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.all()[0].target, "/api/v1/vm.boot");
  (*s)->stop();
  EXPECT_TRUE(std::filesystem::is_socket(adopted_path));  // the parent's file stays
  EXPECT_FALSE(http_request(adopted_path, "GET", "/after-stop"));
}

TEST_F(HttpLifecycleTest, AdoptRefusesWhatIsNotAListeningUnixSocket) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ::close(pipe_fds[1]);
  auto from_pipe = HttpServer::adopt(io_, pipe_fds[0], [](HttpRequest, Responder) {});
  ASSERT_FALSE(from_pipe);
  EXPECT_EQ(from_pipe.error().message(),
            "fd " + std::to_string(pipe_fds[0]) + " is not a listening Unix stream socket");

  UniqueFd unlistened = bind_socket_at(dir_.path() + "/bound.sock", /*listen=*/false);
  EXPECT_FALSE(HttpServer::adopt(io_, unlistened.release(), [](HttpRequest, Responder) {}));
  auto closed_fd = HttpServer::adopt(io_, -1, [](HttpRequest, Responder) {});
  ASSERT_FALSE(closed_fd);
  EXPECT_EQ(closed_fd.error().message(), "fd -1 is not open");
}

}  // namespace
}  // namespace tide::vmm::api::test
