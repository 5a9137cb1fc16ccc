// Unit: http_request (tide ctl's client) against the real server and against scripted
// fake servers, and json_error's shape. Errors must read as one line a user understands.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "tests/unit/vmm/http_test_support.hpp"

namespace tide::vmm::api::test {
namespace {

using HttpClientTest = ServerFixture;

// Accepts one connection at `path`, reads the request header, writes `answer` verbatim
// (unless empty) and closes.
class ScriptedServer {
 public:
  ScriptedServer(const std::string& path, std::string answer)
      : fd_(bind_socket_at(path, /*listen=*/true)), thread_([this, answer = std::move(answer)] {
          UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
          if (!c) return;
          std::string got;
          char buf[1024];
          while (got.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
            if (n <= 0) return;
            got.append(buf, static_cast<size_t>(n));
          }
          if (!answer.empty()) (void)!::send(c.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
        }) {}
  ~ScriptedServer() { thread_.join(); }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

 private:
  UniqueFd fd_;
  std::thread thread_;
};

TEST_F(HttpClientTest, SendsHostContentLengthAndType) {
  start({}, [](const HttpRequest& r) { return HttpResponse{201, "application/json", "{\"got\":\"" + r.body + "\"}"}; });
  auto r = http_request(path_, "PUT", "/api/v1/vm.resize", "{}", "application/json");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 201u);
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_EQ(r->body, "{\"got\":\"{}\"}");
  auto seen = log_.all();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].target, "/api/v1/vm.resize");
  EXPECT_EQ(seen[0].header("host"), "localhost");
  EXPECT_EQ(seen[0].header("content-length"), "2");
  EXPECT_EQ(seen[0].header("content-type"), "application/json");
  EXPECT_EQ(seen[0].body, "{}");
}

TEST_F(HttpClientTest, GetWithoutBodyAndA204Answer) {
  start({}, [](const HttpRequest&) { return HttpResponse{204, "application/json", ""}; });
  auto r = http_request(path_, "GET", "/api/v1/vmm.ping");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 204u);
  EXPECT_EQ(r->body, "");
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_.all()[0].header("content-type"), "");
}

TEST_F(HttpClientTest, ErrorStatusesAreAnswersNotFailures) {
  start({}, [](const HttpRequest&) { return json_error(404, "no such endpoint"); });
  auto r = http_request(path_, "GET", "/nope");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 404u);
  EXPECT_EQ(r->body, "{\"error\":\"no such endpoint\"}");
}

TEST_F(HttpClientTest, OversizedBodyGetsTheServers413) {
  HttpLimits l;
  l.max_body_bytes = 1024;
  start(l);
  auto r = http_request(path_, "PUT", "/big", std::string(4 << 20, 'x'));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 413u);
  EXPECT_EQ(log_.size(), 0u);
}

TEST_F(HttpClientTest, NoServerListening) {
  auto missing = http_request(path_, "GET", "/");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "cannot connect to " + path_ + ": no tide host is listening there");

  bind_socket_at(path_, /*listen=*/false);  // a stale file left by a host that is gone
  auto stale = http_request(path_, "GET", "/");
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().message(), "cannot connect to " + path_ + ": no tide host is listening there");
}

TEST_F(HttpClientTest, TimesOutWhenNoAnswerComes) {
  start_raw({}, kept_.handler());  // never answers
  auto r = http_request(path_, "GET", "/api/v1/vm.info", {}, "application/json", std::chrono::seconds(1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::make_error_code(std::errc::timed_out));
  EXPECT_EQ(r.error().message(), "no answer from " + path_ + ": timed out after 1 s");
}

TEST_F(HttpClientTest, ServerClosingWithoutAnswer) {
  ScriptedServer fake(path_, "");
  auto r = http_request(path_, "GET", "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "the tide host at " + path_ + " closed the connection without answering");
}

TEST_F(HttpClientTest, MalformedAnswer) {
  ScriptedServer fake(path_, "HTTP/1.1 abc Broken\r\n\r\n");
  auto r = http_request(path_, "GET", "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind("malformed answer from " + path_ + ": ", 0), 0u) << r.error().message();
}

TEST_F(HttpClientTest, InterimAnswerSkippedAndChunkedAnswerRead) {
  ScriptedServer fake(path_,
                      "HTTP/1.1 100 Continue\r\n\r\n"
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n");
  auto r = http_request(path_, "GET", "/");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_EQ(r->body, "{\"a\":1}");
}

TEST_F(HttpClientTest, InvalidArgumentsAreRefusedBeforeConnecting) {
  EXPECT_EQ(http_request(path_, "GE T", "/").error().message(), "invalid HTTP method 'GE T'");
  EXPECT_EQ(http_request(path_, "GET", "/a b").error().message(), "invalid request target '/a b'");
  EXPECT_EQ(http_request(path_, "GET", "").error().message(), "invalid request target ''");
  std::string long_path = "/tmp/" + std::string(200, 'p');
  auto r = http_request(long_path, "GET", "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "cannot connect to " + long_path + ": not a usable socket path (1 to 107 bytes)");
}

TEST(HttpJsonError, ShapeAndEscaping) {
  std::string message = "bad \"value\"\n\\ in <domain> \x01 \xc3\xa9";
  HttpResponse r = json_error(422, message);
  EXPECT_EQ(r.status, 422u);
  EXPECT_EQ(r.content_type, "application/json");
  auto v = boost::json::parse(r.body);
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.as_object().size(), 1u);
  EXPECT_EQ(std::string(v.as_object().at("error").as_string()), message);
  EXPECT_EQ(r.body.find('\n'), std::string::npos);  // escaped, one line
  EXPECT_EQ(json_error(400, "x").body, "{\"error\":\"x\"}");
}

}  // namespace
}  // namespace tide::vmm::api::test
