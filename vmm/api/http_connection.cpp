// HttpConnection: the per-client request loop (see the header for phases and threads).
#include "vmm/api/http_connection.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <limits>
#include <string_view>
#include <utility>

#include "vmm/api/http_server_core.hpp"

namespace tide::vmm::api {
namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// After an error answer the server stops sending but reads (and drops) what the client
// still sends for a moment, so the client is not reset mid-write and gets to read the
// answer. Bounded in time and bytes: an oversized body is never read in full.
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kMaxLingerBytes = 1 << 20;
constexpr size_t kDrainChunkBytes = 4096;
// Room for a whole header plus the body bytes streaming through to the parser.
constexpr size_t kBufferSlackBytes = 16 * 1024;

bool is_http_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::end_of_stream).category();
}

}  // namespace

HttpConnection::HttpConnection(Socket socket, std::shared_ptr<HttpServerCore> core)
    : executor_(socket.get_executor()),
      socket_(std::move(socket)),
      timer_(executor_),
      core_(std::move(core)),
      limits_(core_->limits()),
      buffer_(limits_.max_header_bytes > std::numeric_limits<size_t>::max() - kBufferSlackBytes
                  ? std::numeric_limits<size_t>::max()
                  : limits_.max_header_bytes + kBufferSlackBytes) {}

HttpConnection::~HttpConnection() {
  // Destroyed without close() (the io_context went away with work pending): the registry
  // must not keep an fd number the socket's destructor is about to close.
  if (!closed_) core_->forget(this);
}

void HttpConnection::serve() { wait_for_request(); }

void HttpConnection::reject() {
  fail(503, "too many connections (at most " + std::to_string(limits_.max_connections) + ")");
}

void HttpConnection::close_soon() {
  net::post(executor_, [self = shared_from_this()] { self->close(); });
}

void HttpConnection::arm_timer(std::chrono::steady_clock::duration timeout) {
  // Re-arming cancels the previous wait; the generation tells a wait that had already
  // fired (its handler queued) from the current one.
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this(), generation = ++timer_generation_](const error_code& ec) {
    if (ec || generation != self->timer_generation_ || self->closed_) return;
    self->close();
  });
}

void HttpConnection::wait_for_request() {
  if (closed_) return;
  if (core_->stopped()) {
    close();
    return;
  }
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(limits_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(static_cast<std::uint64_t>(limits_.max_body_bytes));
  head_request_ = false;
  if (buffer_.size() > 0) {  // pipelined: the next request has begun already
    read_header();
    return;
  }
  // Idle until the first byte; read_timeout runs from there.
  arm_timer(limits_.idle_timeout);
  socket_.async_wait(net::socket_base::wait_read, [self = shared_from_this()](const error_code& ec) {
    if (self->closed_) return;
    if (ec) {
      self->close();
      return;
    }
    self->read_header();
  });
}

void HttpConnection::read_header() {
  arm_timer(limits_.read_timeout);
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = shared_from_this()](const error_code& ec, size_t) { self->on_header(ec); });
}

void HttpConnection::on_header(const error_code& ec) {
  if (closed_) return;
  if (ec) {
    on_read_error(ec, true);
    return;
  }
  // Body bytes that came with the header are parsed first: 100 Continue only makes sense
  // while the body is still missing.
  while (!parser_->is_done() && buffer_.size() > 0) {
    error_code put_ec;
    size_t used = parser_->put(buffer_.data(), put_ec);
    buffer_.consume(used);
    if (put_ec == http::error::need_more) break;
    if (put_ec) {
      on_read_error(put_ec, false);
      return;
    }
    if (used == 0) break;
  }
  if (parser_->is_done()) {
    handle_request();
    return;
  }
  const auto& header = parser_->get();
  // RFC 9110 §10.1.1: answer an HTTP/1.1 expectation before the client sends the body.
  if (header.version() == 11 && boost::beast::iequals(header[http::field::expect], "100-continue")) {
    net::async_write(socket_, net::buffer(kContinue), [self = shared_from_this()](const error_code& wec, size_t) {
      if (self->closed_) return;
      if (wec) {
        self->close();
        return;
      }
      self->read_body();
    });
    return;
  }
  read_body();
}

void HttpConnection::read_body() {
  http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](const error_code& ec, size_t) {
    if (self->closed_) return;
    if (ec) {
      self->on_read_error(ec, false);
      return;
    }
    self->handle_request();
  });
}

void HttpConnection::on_read_error(const error_code& ec, bool in_header) {
  // The client left (or the socket was shut down by stop()): nobody to answer.
  if (!is_http_error(ec) || ec == http::error::end_of_stream || ec == http::error::partial_message) {
    close();
    return;
  }
  if (ec == http::error::header_limit || (in_header && ec == http::error::buffer_overflow)) {
    fail(431, "request header larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
  } else if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
    fail(413, "request body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
  } else {
    fail(400, "malformed request: " + ec.message());
  }
}

void HttpConnection::handle_request() {
  const auto& header = parser_->get();
  keep_alive_ = header.keep_alive();
  version_ = header.version();
  head_request_ = header.method() == http::verb::head;
  HttpRequest request = to_http_request(parser_->release());
  parser_.reset();
  ++serial_;
  awaiting_response_ = true;
  // The handler may take its time (and answer from another thread), but a Responder that
  // is never called must not hold the connection forever.
  arm_timer(limits_.idle_timeout);
  if (!core_->invoke(std::move(request), make_responder())) close();
}

Responder HttpConnection::make_responder() {
  return [weak = weak_from_this(), serial = serial_](HttpResponse response) {
    auto self = weak.lock();
    if (!self) return;  // the connection is gone: nothing to answer
    auto executor = self->executor_;
    net::post(executor, [self = std::move(self), serial, response = std::move(response)]() mutable {
      self->respond(serial, std::move(response));
    });
  };
}

void HttpConnection::respond(uint64_t serial, HttpResponse response) {
  // A late or second call for a request already answered (or a closed connection).
  if (closed_ || !awaiting_response_ || serial != serial_) return;
  awaiting_response_ = false;
  bool keep_alive = keep_alive_ && !core_->stopped();
  send(to_beast_response(std::move(response), version_, keep_alive),
       keep_alive ? AfterWrite::next_request : AfterWrite::close);
}

void HttpConnection::fail(unsigned status, const std::string& message) {
  parser_.reset();
  awaiting_response_ = false;
  send(to_beast_response(json_error(status, message), 11, false), AfterWrite::linger);
}

void HttpConnection::send(BeastResponse response, AfterWrite after) {
  response_.emplace(std::move(response));
  // RFC 9110 §9.3.2: HEAD gets the header of the GET answer, Content-Length included.
  if (head_request_) response_->body().clear();
  after_write_ = after;
  arm_timer(limits_.read_timeout);  // a client that does not read its answer
  http::async_write(socket_, *response_,
                    [self = shared_from_this()](const error_code& ec, size_t) { self->on_written(ec); });
}

void HttpConnection::on_written(const error_code& ec) {
  if (closed_) return;
  response_.reset();
  if (ec) {
    close();
    return;
  }
  switch (after_write_) {
    case AfterWrite::next_request: wait_for_request(); break;
    case AfterWrite::close: close(); break;
    case AfterWrite::linger: linger_close(); break;
  }
}

void HttpConnection::linger_close() {
  error_code ignored;
  socket_.shutdown(net::socket_base::shutdown_send, ignored);
  buffer_.consume(buffer_.size());
  arm_timer(std::min<std::chrono::steady_clock::duration>(limits_.read_timeout, kLingerTime));
  drain();
}

void HttpConnection::drain() {
  socket_.async_read_some(buffer_.prepare(kDrainChunkBytes), [self = shared_from_this()](const error_code& ec, size_t n) {
    if (self->closed_) return;
    self->lingered_bytes_ += n;
    if (ec || self->lingered_bytes_ > kMaxLingerBytes) {
      self->close();
      return;
    }
    self->drain();
  });
}

void HttpConnection::close() {
  if (closed_) return;
  closed_ = true;
  awaiting_response_ = false;
  core_->forget(this);  // before the fd number is released (see HttpServerCore::stop)
  error_code ignored;
  socket_.shutdown(net::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  timer_.cancel();
}

}  // namespace tide::vmm::api
