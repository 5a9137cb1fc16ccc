// HttpServerCore: what one HttpServer's listener and connections share. It owns the
// user's handler and calls it (never after stop()), keeps the registry of open
// connections (admission against max_connections, the count connections() reports) and
// stops them all. Locking: one mutex guards every member; the handler runs without it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "vmm/api/http.hpp"

namespace tide::vmm::api {

class HttpConnection;

class HttpServerCore {
 public:
  HttpServerCore(HttpHandler handler, HttpLimits limits);
  HttpServerCore(const HttpServerCore&) = delete;
  HttpServerCore& operator=(const HttpServerCore&) = delete;

  [[nodiscard]] const HttpLimits& limits() const { return limits_; }

  enum class Admission { serve, reject, stopped };
  // Registers a freshly accepted connection whose socket is `fd`: served while fewer
  // than max_connections are, else answered 503 (registered, not counted). Thread: any.
  [[nodiscard]] Admission admit(const std::shared_ptr<HttpConnection>& connection, int fd);
  // Drops the connection from the registry; call before its fd is closed. Thread: any.
  void forget(const HttpConnection* connection);

  // Runs the handler unless the server is stopped (then returns false and the caller
  // closes the connection). Thread: the connection's strand.
  bool invoke(HttpRequest request, Responder responder);

  [[nodiscard]] bool stopped() const;
  // Marks the server stopped, shuts every registered socket down (their pending reads
  // end at once, the peers see end of file) and posts their closing to their strands;
  // waits until no handler call is running (except one this thread is inside), then
  // destroys the handler. Thread: any.
  void stop();

  [[nodiscard]] size_t connections() const;

 private:
  struct Entry {
    std::weak_ptr<HttpConnection> connection;
    int fd = -1;
    bool counted = false;
  };

  const HttpLimits limits_;
  mutable std::mutex mutex_;
  std::condition_variable handlers_done_;
  HttpHandler handler_;
  bool stopped_ = false;
  size_t running_handlers_ = 0;
  size_t counted_ = 0;
  std::unordered_map<const HttpConnection*, Entry> entries_;
};

}  // namespace tide::vmm::api
