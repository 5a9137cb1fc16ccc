// Unit: HttpServer's limits — malformed requests (400), oversized headers (431) and
// bodies (413, refused before the body is read), read and idle timeouts, the connection
// cap (503) — each while other clients keep being served.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "tests/unit/vmm/http_test_support.hpp"

namespace tide::vmm::api::test {
namespace {

using HttpLimitsTest = ServerFixture;

// The "error" member of a JSON error body ("" if the body is not one).
std::string error_of(const RawResponse& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("error")) return "";
  return std::string(v.as_object().at("error").as_string());
}

HttpLimits small_limits() {
  HttpLimits l;
  l.max_header_bytes = 1024;
  l.max_body_bytes = 1024;
  l.read_timeout = std::chrono::seconds(1);
  l.idle_timeout = std::chrono::seconds(30);
  l.max_connections = 4;
  return l;
}

TEST_F(HttpLimitsTest, MalformedRequestLineGets400AndClose) {
  start();
  for (const char* bad : {"GET /x HTPT/1.1\r\n\r\n", "GET\r\n\r\n", "GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
                          "PUT /x HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"}) {
    RawClient c(path_);
    ASSERT_TRUE(c.send(bad));
    auto r = c.read_response();
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400u) << bad;
    EXPECT_EQ(r->headers["content-type"], "application/json");
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_EQ(error_of(*r).rfind("malformed request: ", 0), 0u) << r->body;
    EXPECT_TRUE(c.wait_closed()) << bad;
  }
  EXPECT_EQ(log_.size(), 0u);
}

TEST_F(HttpLimitsTest, BadChunkGets400) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(log_.size(), 0u);
}

TEST_F(HttpLimitsTest, OversizedHeaderGets431AndClose) {
  start(small_limits());
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431u);
  EXPECT_EQ(error_of(*r), "request header larger than 1024 bytes");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(log_.size(), 0u);
}

TEST_F(HttpLimitsTest, EndlessHeaderGets431) {
  start(small_limits());
  RawClient c(path_);
  // Never finishes the header: the server must give up at the limit, not buffer on.
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\n"));
  for (int i = 0; i < 20; ++i) {
    if (!c.send("X-Line-" + std::to_string(i) + ": " + std::string(100, 'b') + "\r\n")) break;
  }
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431u);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpLimitsTest, HeaderJustUnderTheLimitIsServed) {
  start(small_limits());
  RawClient c(path_);
  std::string head = "GET / HTTP/1.1\r\nX-Pad: ";
  head += std::string(1024 - head.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(head.size(), 1024u);
  ASSERT_TRUE(c.send(head));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

TEST_F(HttpLimitsTest, ContentLengthOverTheLimitGets413BeforeTheBodyIsSent) {
  start(small_limits());
  RawClient c(path_);
  // Only the header goes out: the answer cannot depend on reading the body.
  ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
  EXPECT_EQ(error_of(*r), "request body larger than 1024 bytes");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(log_.size(), 0u);
}

TEST_F(HttpLimitsTest, ExpectContinueOverTheLimitGets413InsteadOf100) {
  start(small_limits());
  RawClient c(path_);
  ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nContent-Length: 4096\r\nExpect: 100-continue\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpLimitsTest, ChunkedBodyOverTheLimitGets413) {
  start(small_limits());
  {
    // One chunk announced far over the limit: refused on its size line.
    RawClient c(path_);
    ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\nabc"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413u);
    EXPECT_TRUE(c.wait_closed());
  }
  {
    // Small chunks adding up to more than the limit.
    RawClient c(path_);
    std::string chunk = "258\r\n" + std::string(600, 'c') + "\r\n";  // 0x258 = 600
    ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + "0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413u);
    EXPECT_TRUE(c.wait_closed());
  }
  EXPECT_EQ(log_.size(), 0u);
}

TEST_F(HttpLimitsTest, BodyAtTheLimitIsServed) {
  start(small_limits());
  RawClient c(path_);
  ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nContent-Length: 1024\r\n\r\n" + std::string(1024, 'd')));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_.all()[0].body.size(), 1024u);
}

TEST_F(HttpLimitsTest, StalledClientIsClosedWhileOthersAreServed) {
  start(small_limits());
  RawClient stalled_header(path_);
  ASSERT_TRUE(stalled_header.send("GET /never HTTP/1.1\r\nHost: loc"));
  RawClient stalled_body(path_);
  ASSERT_TRUE(stalled_body.send("PUT /never HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));

  RawClient other(path_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(other.send("GET /served HTTP/1.1\r\n\r\n"));
    auto r = other.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
  }
  // Closed without an answer once read_timeout passes.
  EXPECT_TRUE(stalled_header.wait_closed());
  EXPECT_TRUE(stalled_body.wait_closed());
  ASSERT_EQ(log_.size(), 3u);
  for (const auto& r : log_.all()) EXPECT_EQ(r.target, "/served");
}

TEST_F(HttpLimitsTest, IdleKeptAliveConnectionIsClosed) {
  HttpLimits l = small_limits();
  l.idle_timeout = std::chrono::seconds(1);
  start(l);
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(eventually([&] { return server_->connections() == 0; }));
}

TEST_F(HttpLimitsTest, SlowHandlerIsNotCutByTheReadTimeout) {
  HttpLimits l = small_limits();  // read_timeout 1 s, idle_timeout 30 s
  start_raw(l, [this](HttpRequest r, Responder respond) {
    workers_.spawn([r = std::move(r), respond = std::move(respond)] {
      std::this_thread::sleep_for(1500ms);  // longer than read_timeout
      respond(echo(r));
    });
  });
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET /slow HTTP/1.1\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "GET /slow\n");
}

TEST_F(HttpLimitsTest, ResponderNeverCalledDoesNotHoldTheConnectionForever) {
  HttpLimits l = small_limits();
  l.idle_timeout = std::chrono::seconds(1);
  start_raw(l, kept_.handler());  // held, never called
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET /forgotten HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(eventually([&] { return server_->connections() == 0; }));
  ASSERT_EQ(kept_.size(), 1u);
  kept_.at(0)(HttpResponse{});  // too late: harmless
}

TEST_F(HttpLimitsTest, ConnectionsBeyondTheCapGet503) {
  HttpLimits l = small_limits();
  l.max_connections = 2;
  start(l);
  RawClient a(path_);
  RawClient b(path_);
  for (RawClient* c : {&a, &b}) {  // both accepted and served: they hold the two places
    ASSERT_TRUE(c->send("GET /held HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(c->read_response());
  }
  EXPECT_EQ(server_->connections(), 2u);

  RawClient extra(path_);
  ASSERT_TRUE(extra.connected());
  extra.send("GET /extra HTTP/1.1\r\n\r\n");
  auto r = extra.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503u);
  EXPECT_EQ(error_of(*r), "too many connections (at most 2)");
  EXPECT_TRUE(extra.wait_closed());
  EXPECT_EQ(server_->connections(), 2u);  // the rejected one never counted

  // A place frees up when a client leaves.
  a.close();
  ASSERT_TRUE(eventually([&] { return server_->connections() == 1; }));
  RawClient next(path_);
  ASSERT_TRUE(next.send("GET /next HTTP/1.1\r\n\r\n"));
  auto served = next.read_response();
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200u);
  for (const auto& req : log_.all()) EXPECT_NE(req.target, "/extra");
}

TEST_F(HttpLimitsTest, ClientLeavingMidRequestFreesItsPlace) {
  start(small_limits());
  {
    RawClient c(path_);
    ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial"));
    ASSERT_TRUE(eventually([&] { return server_->connections() == 1; }));
  }
  EXPECT_TRUE(eventually([&] { return server_->connections() == 0; }));
  EXPECT_EQ(log_.size(), 0u);
}

}  // namespace
}  // namespace tide::vmm::api::test
