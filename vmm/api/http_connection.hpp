// HttpConnection: one accepted client of an HttpServer. It reads requests in a loop with
// Beast's parser (header first, then 100 Continue if asked, then the body), hands each to
// the server's handler and writes the answer when the Responder is called, then reads the
// next request (HTTP/1.1 keep-alive). One timer bounds every phase: idle between
// requests, read_timeout from a request's first byte to the end of its answer, idle while
// the handler works. Every member runs on the connection's strand (executor()); only
// close_soon() and the Responders may be called from other threads.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstdint>
#include <memory>
#include <optional>

#include "vmm/api/http.hpp"
#include "vmm/api/http_message.hpp"

namespace tide::vmm::api {

class HttpServerCore;

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;

  // `socket`'s executor must be a strand of its own.
  HttpConnection(Socket socket, std::shared_ptr<HttpServerCore> core);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  [[nodiscard]] const boost::asio::any_io_executor& executor() const { return executor_; }

  // Strand only: serves requests until the client leaves, a limit ends it or stop().
  void serve();
  // Strand only: answers 503 (too many connections) and closes.
  void reject();
  // Any thread: closes the connection on its strand.
  void close_soon();

 private:
  enum class AfterWrite { next_request, close, linger };

  void wait_for_request();
  void read_header();
  void on_header(const boost::system::error_code& ec);
  void read_body();
  void on_read_error(const boost::system::error_code& ec, bool in_header);
  void handle_request();
  [[nodiscard]] Responder make_responder();
  void respond(uint64_t serial, HttpResponse response);
  void fail(unsigned status, const std::string& message);
  void send(BeastResponse response, AfterWrite after);
  void on_written(const boost::system::error_code& ec);
  void linger_close();
  void drain();
  void close();
  void arm_timer(std::chrono::steady_clock::duration timeout);

  const boost::asio::any_io_executor executor_;
  Socket socket_;
  boost::asio::steady_timer timer_;
  const std::shared_ptr<HttpServerCore> core_;
  const HttpLimits limits_;
  boost::beast::flat_buffer buffer_;  // kept across requests: pipelined bytes stay here
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<BeastResponse> response_;  // the one being written
  AfterWrite after_write_ = AfterWrite::close;
  uint64_t timer_generation_ = 0;
  uint64_t serial_ = 0;           // of the request awaiting its answer
  bool awaiting_response_ = false;
  bool keep_alive_ = false;
  bool head_request_ = false;
  unsigned version_ = 11;
  size_t lingered_bytes_ = 0;
  bool closed_ = false;
};

}  // namespace tide::vmm::api
