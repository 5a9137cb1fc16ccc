// HttpServerCore: the handler, the connection registry and stop() (see the header).
#include "vmm/api/http_server_core.hpp"

#include <sys/socket.h>

#include <exception>
#include <utility>

#include "guestmm/base/log.hpp"
#include "vmm/api/http_connection.hpp"

namespace tide::vmm::api {

namespace {
// The core whose handler this thread is running, so stop() called from inside a handler
// does not wait for itself.
thread_local const HttpServerCore* tl_running_core = nullptr;
}  // namespace

HttpServerCore::HttpServerCore(HttpHandler handler, HttpLimits limits)
    : limits_(limits), handler_(std::move(handler)) {}

HttpServerCore::Admission HttpServerCore::admit(const std::shared_ptr<HttpConnection>& connection, int fd) {
  std::lock_guard lock(mutex_);
  if (stopped_) return Admission::stopped;
  Entry entry{connection, fd, counted_ < limits_.max_connections};
  if (entry.counted) ++counted_;
  entries_.emplace(connection.get(), std::move(entry));
  return entries_.at(connection.get()).counted ? Admission::serve : Admission::reject;
}

void HttpServerCore::forget(const HttpConnection* connection) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(connection);
  if (it == entries_.end()) return;
  if (it->second.counted) --counted_;
  entries_.erase(it);
}

bool HttpServerCore::invoke(HttpRequest request, Responder responder) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || !handler_) return false;
    ++running_handlers_;
  }
  // handler_ stays put while running_handlers_ > 0: stop() only destroys it at zero.
  Responder on_failure = responder;
  const HttpServerCore* outer = std::exchange(tl_running_core, this);
  try {
    handler_(std::move(request), std::move(responder));
  } catch (const std::exception& e) {
    // An exception escaping into the event loop would end io_context::run() for every
    // connection; this one request fails instead (ignored if it was answered already).
    log::error("API handler failed: %s", e.what());
    on_failure(json_error(500, std::string("internal error: ") + e.what()));
  } catch (...) {
    log::error("API handler failed with an unknown exception");
    on_failure(json_error(500, "internal error"));
  }
  tl_running_core = outer;

  HttpHandler retired;
  {
    std::lock_guard lock(mutex_);
    --running_handlers_;
    if (stopped_ && running_handlers_ == 0 && handler_) {
      retired = std::move(handler_);
      handler_ = nullptr;
    }
  }
  handlers_done_.notify_all();
  return true;
}

bool HttpServerCore::stopped() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

void HttpServerCore::stop() {
  std::vector<std::shared_ptr<HttpConnection>> to_close;
  HttpHandler retired;
  {
    std::unique_lock lock(mutex_);
    if (!stopped_) {
      stopped_ = true;
      for (auto& [key, entry] : entries_) {
        // shutdown(2) acts on the kernel socket only, so it is safe beside the strand that
        // owns the Asio object; the fd cannot be closed meanwhile (forget() precedes close
        // and needs this mutex). The strand's pending read then ends with end of file.
        if (entry.fd >= 0) ::shutdown(entry.fd, SHUT_RDWR);
        if (auto c = entry.connection.lock()) to_close.push_back(std::move(c));
      }
    }
    size_t this_thread = tl_running_core == this ? 1 : 0;
    handlers_done_.wait(lock, [&] { return running_handlers_ <= this_thread; });
    if (running_handlers_ == 0 && handler_) {
      retired = std::move(handler_);
      handler_ = nullptr;
    }
  }
  for (auto& c : to_close) c->close_soon();
  // `retired` (the handler and what it captured) and the references go here, unlocked:
  // a connection's destructor takes the mutex.
}

size_t HttpServerCore::connections() const {
  std::lock_guard lock(mutex_);
  return counted_;
}

}  // namespace tide::vmm::api
