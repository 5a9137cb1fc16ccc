// http_request: tide ctl's blocking client. One connection per call on a private
// io_context; one deadline covers connect, write and read. Errors are single lines that
// say what went wrong from the user's side (no host running, timeout, broken answer).
#include <sys/un.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>

#include "vmm/api/http.hpp"
#include "vmm/api/http_message.hpp"

namespace tide::vmm::api {
namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr size_t kMaxResponseBodyBytes = 64 * 1024 * 1024;
constexpr std::uint32_t kMaxResponseHeaderBytes = 64 * 1024;

// RFC 9110 §5.6.2 token characters.
bool is_token(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_valid_target(const std::string& s) {
  return !s.empty() && s.size() <= 8192 && std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

// One request: connect, write, read the answer (skipping interim 1xx answers).
class Call {
 public:
  Call(const std::string& path, BeastRequest request, std::chrono::seconds timeout)
      : path_(path), request_(std::move(request)), timeout_(timeout), socket_(io_), deadline_(io_) {}

  Result<HttpResponse> run() {
    deadline_.expires_after(timeout_);
    deadline_.async_wait([this](const error_code& ec) {
      if (ec) return;
      timed_out_ = true;
      error_code ignored;
      socket_.close(ignored);
    });
    socket_.async_connect(net::local::stream_protocol::endpoint(path_), [this](const error_code& ec) {
      if (ec) return finish(connect_error(ec));
      http::async_write(socket_, request_, [this](const error_code& wec, size_t) {
        // The server may have answered (and stopped reading) before taking the whole
        // body, e.g. 413: its answer is worth more than the write error.
        write_error_ = wec;
        read_response();
      });
    });
    io_.run();
    if (!result_) return make_error(std::errc::io_error, "the request to " + path_ + " ended without an answer");
    return std::move(*result_);
  }

 private:
  void read_response() {
    parser_.emplace();
    parser_->header_limit(kMaxResponseHeaderBytes);
    parser_->body_limit(std::uint64_t{kMaxResponseBodyBytes});
    http::async_read(socket_, buffer_, *parser_, [this](const error_code& ec, size_t) {
      if (ec) return finish(read_error(ec));
      if (parser_->get().result_int() < 200) return read_response();  // 100 Continue and kin
      finish(to_http_response(parser_->release()));
    });
  }

  void finish(Result<HttpResponse> result) {
    // A socket closed by the deadline makes the pending step fail; say why. An answer
    // that completed in the same instant still counts.
    if (timed_out_ && !result) {
      result = make_error(std::errc::timed_out, "no answer from " + path_ + ": timed out after " +
                                                    std::to_string(timeout_.count()) + " s");
    }
    result_.emplace(std::move(result));
    deadline_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }

  Error connect_error(const error_code& ec) const {
    std::string what = "cannot connect to " + path_ + ": ";
    if (ec == boost::system::errc::no_such_file_or_directory || ec == net::error::connection_refused) {
      return make_error(ec, what + "no tide host is listening there");
    }
    if (ec == net::error::access_denied) return make_error(ec, what + "permission denied");
    return make_error(ec, what + ec.message());
  }

  Error read_error(const error_code& ec) const {
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == net::error::eof) {
      return make_error(std::errc::connection_aborted, "the tide host at " + path_ + " closed the connection" +
                                                           (write_error_ ? " before taking the request" :
                                                                           " without answering"));
    }
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category()) {
      return make_error(std::errc::bad_message, "malformed answer from " + path_ + ": " + ec.message());
    }
    return make_error(ec, "lost the connection to " + path_ + ": " + ec.message());
  }

  const std::string path_;
  BeastRequest request_;
  const std::chrono::seconds timeout_;
  net::io_context io_;
  net::local::stream_protocol::socket socket_;
  net::steady_timer deadline_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  error_code write_error_;
  bool timed_out_ = false;
  std::optional<Result<HttpResponse>> result_;
};

}  // namespace

Result<HttpResponse> http_request(const std::string& socket_path, const std::string& method,
                                  const std::string& target, const std::string& body,
                                  const std::string& content_type, std::chrono::seconds timeout) {
  if (socket_path.empty() || socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return make_error(std::errc::invalid_argument,
                      "cannot connect to " + socket_path + ": not a usable socket path (1 to " +
                          std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  }
  if (!is_token(method)) return make_error(std::errc::invalid_argument, "invalid HTTP method '" + method + "'");
  if (!is_valid_target(target)) return make_error(std::errc::invalid_argument, "invalid request target '" + target + "'");
  if (timeout.count() <= 0) return make_error(std::errc::invalid_argument, "the timeout must be at least 1 s");
  Call call(socket_path, make_beast_request(method, target, body, content_type), timeout);
  return call.run();
}

}  // namespace tide::vmm::api
