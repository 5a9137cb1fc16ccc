// The HTTP/1.1 transport of tide's control plane: a server on a Unix socket (tide host's
// API, and the Cloud-Hypervisor-compatible API that libvirt drives) and a blocking client
// (tide ctl). Requests and responses are plain values; a handler answers through a
// Responder that may be called later and from any thread (exactly once), so slow
// operations never run on the event loop. Connections are served concurrently on the
// io_context; limits bound what any one client can hold (header and body sizes, idle and
// read timeouts, number of connections), so a slow or broken client cannot stall others.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "guestmm/base/error.hpp"

namespace tide::vmm::api {

struct HttpRequest {
  std::string method;   // "GET", "PUT", ...
  std::string target;   // "/api/v1/vm.info" (path and query, as sent)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;     // de-chunked
  [[nodiscard]] std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;  // empty with 204
};

using Responder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest, Responder)>;

struct HttpLimits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 8 * 1024 * 1024;  // a domain XML is far smaller
  std::chrono::seconds read_timeout{30};    // to receive one whole request once it started
  std::chrono::seconds idle_timeout{300};   // between requests on a kept-alive connection
  size_t max_connections = 64;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Serves on a new Unix socket at `path` (mode 0600; a stale socket file there is
  // replaced). Errors: the path is taken by something else, bind/listen failures.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> listen(boost::asio::io_context& io, const std::string& path,
                                                                 HttpHandler handler, HttpLimits limits = {});
  // Serves on a listening Unix socket inherited from the parent (libvirt's
  // --api-socket fd=N). Takes ownership of the fd.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> adopt(boost::asio::io_context& io, int listening_fd,
                                                                HttpHandler handler, HttpLimits limits = {});
  // Stops accepting and closes every connection; responses not yet sent are dropped.
  // Thread: any; returns once nothing of the server runs on the io_context any more.
  virtual void stop() = 0;
  [[nodiscard]] virtual size_t connections() const = 0;
};

// A blocking request over a Unix socket (one connection per call). Errors: cannot connect
// (no daemon), timeout, malformed response.
[[nodiscard]] Result<HttpResponse> http_request(const std::string& socket_path, const std::string& method,
                                                const std::string& target, const std::string& body = {},
                                                const std::string& content_type = "application/json",
                                                std::chrono::seconds timeout = std::chrono::seconds(60));

// {"error": message} with the given status: tide's one error shape.
[[nodiscard]] HttpResponse json_error(unsigned status, const std::string& message);

}  // namespace tide::vmm::api
