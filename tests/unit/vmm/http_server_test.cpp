// Unit: HttpServer's wire format over a Unix socket — basics, keep-alive, pipelining,
// Connection: close, chunked bodies, 100 Continue and the exact request shapes libvirt's
// Cloud Hypervisor driver sends (design/LIBVIRT.md).
#include <gtest/gtest.h>

#include "tests/unit/vmm/http_test_support.hpp"

namespace tide::vmm::api::test {
namespace {

using HttpServerTest = ServerFixture;

TEST_F(HttpServerTest, GetAnsweredWithContentLengthAndType) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /api/v1/vm.info?x=1 HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r->headers["content-type"], "text/plain");
  EXPECT_EQ(r->headers["content-length"], std::to_string(r->body.size()));
  EXPECT_EQ(r->body, "GET /api/v1/vm.info?x=1\n");
  auto seen = log_.all();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/api/v1/vm.info?x=1");
  EXPECT_EQ(seen[0].header("accept"), "application/json");  // names lower-cased
  EXPECT_EQ(seen[0].body, "");
}

TEST_F(HttpServerTest, PutBodyWithContentLength) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("PUT /api/v1/vm.create HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     "Content-Length: 13\r\n\r\n{\"cpus\":{}}\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "PUT /api/v1/vm.create\n{\"cpus\":{}}\r\n");
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_.all()[0].header("content-type"), "application/json");
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET /one HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto first = c.read_response();
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->has("connection"));  // HTTP/1.1: persistent unless said otherwise
  ASSERT_TRUE(c.send("GET /two HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto second = c.read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(first->body, "GET /one\n");
  EXPECT_EQ(second->body, "GET /two\n");
  EXPECT_EQ(server_->connections(), 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("PUT /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nA"
                     "PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nB\r\n0\r\n\r\n"
                     "GET /c HTTP/1.1\r\n\r\n"));
  for (const char* expected : {"PUT /a\nA", "PUT /b\nB", "GET /c\n"}) {
    auto r = c.read_response();
    ASSERT_TRUE(r) << expected;
    EXPECT_EQ(r->body, expected);
  }
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET /bye HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET /old HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status_line.substr(0, 12), "HTTP/1.0 200");
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServerTest, ChunkedBodyIsDechunked) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("PUT /api/v1/vm.resize HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\n{\"des\r\n"));
  ASSERT_TRUE(c.send("a;ext=1\r\nired_ram\":\r\n3\r\n42}\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_.all()[0].body, "{\"desired_ram\":42}");
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimAnswerBeforeTheBody) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("PUT /api/v1/vm.add-disk HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                     "Expect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();  // nothing of the body has been sent yet
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status_line, "HTTP/1.1 100 Continue");
  EXPECT_EQ(log_.size(), 0u);
  ASSERT_TRUE(c.send("hello"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "PUT /api/v1/vm.add-disk\nhello");
}

TEST_F(HttpServerTest, ExpectContinueWithTheBodyAlreadySentGetsOnlyTheFinalAnswer) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("PUT /x HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "PUT /x\nhi");
}

// The request sequence libvirt's ch driver sends (libcurl over the socket, one
// kept-alive connection): vm.create with a JSON body, then body-less PUTs with
// chunked encoding and Expect: 100-continue, and GET vm.info.
TEST_F(HttpServerTest, LibvirtRequestShapes) {
  start({}, [](const HttpRequest& r) {
    if (r.method == "PUT" && r.target != "/api/v1/vm.create") return HttpResponse{204, "application/json", ""};
    return echo(r);
  });
  RawClient c(path_);
  const std::string create_body =
      "{\"cpus\":{\"boot_vcpus\":2,\"max_vcpus\":4},\"memory\":{\"size\":1073741824},"
      "\"kernel\":{\"path\":\"/k\"},\"cmdline\":{\"args\":\"console=ttyS0\"}}";
  ASSERT_TRUE(c.send("PUT /api/v1/vm.create HTTP/1.1\r\nHost: localhost\r\naccept: application/json\r\n"
                     "content-type: application/json\r\ncontent-length: " +
                     std::to_string(create_body.size()) + "\r\n\r\n" + create_body));
  auto created = c.read_response();
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 200u);

  for (const char* verb : {"vm.boot", "vm.pause"}) {
    ASSERT_TRUE(c.send(std::string("PUT /api/v1/") + verb +
                       " HTTP/1.1\r\nHost: localhost\r\naccept: */*\r\ntransfer-encoding: chunked\r\n"
                       "expect: 100-continue\r\n\r\n"));
    auto interim = c.read_response();
    ASSERT_TRUE(interim) << verb;
    EXPECT_EQ(interim->status, 100u);
    ASSERT_TRUE(c.send("0\r\n\r\n"));  // curl's empty chunked body
    auto done = c.read_response();
    ASSERT_TRUE(done) << verb;
    EXPECT_EQ(done->status_line, "HTTP/1.1 204 No Content");
    EXPECT_FALSE(done->has("content-length"));  // RFC 9110 §8.6: none with 204
    EXPECT_FALSE(done->has("content-type"));
    EXPECT_EQ(done->body, "");
  }

  ASSERT_TRUE(c.send("GET /api/v1/vm.info HTTP/1.1\r\nHost: localhost\r\naccept: application/json\r\n"
                     "content-type: application/json\r\n\r\n"));
  auto info = c.read_response();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, 200u);

  auto seen = log_.all();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].body, create_body);
  EXPECT_EQ(seen[1].method, "PUT");
  EXPECT_EQ(seen[1].target, "/api/v1/vm.boot");
  EXPECT_EQ(seen[1].body, "");
  EXPECT_EQ(seen[1].header("accept"), "*/*");
  EXPECT_EQ(seen[1].header("expect"), "100-continue");
  EXPECT_EQ(seen[2].target, "/api/v1/vm.pause");
  EXPECT_EQ(seen[3].method, "GET");
  EXPECT_EQ(seen[3].target, "/api/v1/vm.info");
  EXPECT_EQ(server_->connections(), 1u);  // all on one kept-alive connection
}

TEST_F(HttpServerTest, HeadGetsTheHeaderOnly) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("HEAD /h HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n"));
  auto head = c.read_response(/*with_body=*/false);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->headers["content-length"], "8");  // what the handler's body ("HEAD /h\n") has
  auto next = c.read_response();  // follows the header directly: no body was sent
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "GET /after\n");
}

TEST_F(HttpServerTest, RepeatedHeadersAreJoined) {
  start();
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nX-Tag: a\r\nx-tag: b\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_.all()[0].header("x-tag"), "a, b");
}

TEST_F(HttpServerTest, HandlerStatusAndContentTypeAreSanitised) {
  start({}, [](const HttpRequest& r) {
    if (r.target == "/bad-status") return HttpResponse{42, "text/plain", "x"};
    return HttpResponse{200, "text/plain\r\nX-Injected: 1", "x"};
  });
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET /bad-status HTTP/1.1\r\n\r\n"));
  auto bad = c.read_response();
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 500u);
  EXPECT_EQ(bad->headers["content-type"], "application/json");
  ASSERT_TRUE(c.send("GET /injected HTTP/1.1\r\n\r\n"));
  auto injected = c.read_response();
  ASSERT_TRUE(injected);
  EXPECT_EQ(injected->status, 200u);
  EXPECT_FALSE(injected->has("x-injected"));
  EXPECT_EQ(injected->headers["content-type"], "application/octet-stream");
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500AndTheServerGoesOn) {
  start_raw({}, [](HttpRequest r, Responder respond) {
    if (r.target == "/throw") throw std::runtime_error("boom");
    respond(echo(r));
  });
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET /throw HTTP/1.1\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500u);
  EXPECT_EQ(r->body, "{\"error\":\"internal error: boom\"}");
  ASSERT_TRUE(c.send("GET /fine HTTP/1.1\r\n\r\n"));
  auto fine = c.read_response();
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->body, "GET /fine\n");
}

}  // namespace
}  // namespace tide::vmm::api::test
