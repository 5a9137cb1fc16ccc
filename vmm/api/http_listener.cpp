// HttpListener: accept loop and admission (see the header).
#include "vmm/api/http_listener.hpp"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <utility>

#include "guestmm/base/log.hpp"
#include "vmm/api/http_connection.hpp"
#include "vmm/api/http_server_core.hpp"

namespace tide::vmm::api {
namespace net = boost::asio;
using boost::system::error_code;

namespace {
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
}  // namespace

HttpListener::HttpListener(net::io_context& io, std::shared_ptr<HttpServerCore> core)
    : io_(io),
      executor_(net::make_strand(io)),
      acceptor_(executor_),
      retry_timer_(executor_),
      core_(std::move(core)) {}

Status HttpListener::start(UniqueFd listening_fd) {
  error_code ec;
  acceptor_.assign(net::local::stream_protocol(), listening_fd.get(), ec);
  if (ec) return make_error(ec, "cannot serve on the API socket");
  {
    std::lock_guard lock(mutex_);
    fd_ = listening_fd.release();
  }
  net::post(executor_, [self = shared_from_this()] { self->accept(); });
  return ok();
}

void HttpListener::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    // Acts on the kernel socket only (see HttpServerCore::stop): connects are refused from
    // now on and the pending accept wakes up.
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  net::post(executor_, [self = shared_from_this()] { self->close_acceptor(); });
}

bool HttpListener::stopped() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

void HttpListener::close_acceptor() {
  {
    std::lock_guard lock(mutex_);
    fd_ = -1;
  }
  error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

void HttpListener::accept() {
  if (stopped()) {
    close_acceptor();
    return;
  }
  acceptor_.async_accept(net::any_io_executor(net::make_strand(io_)),
                         [self = shared_from_this()](const error_code& ec, Socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void HttpListener::on_accept(const error_code& ec, Socket socket) {
  if (stopped()) {
    close_acceptor();
    return;  // `socket` closes as it goes out of scope
  }
  if (ec == net::error::operation_aborted) return;
  if (ec == net::error::connection_aborted) {  // the client gave up while queued
    accept();
    return;
  }
  if (ec) {
    // Out of fds or memory: pause rather than spin, connections being served go on.
    if (!std::exchange(accept_failing_, true)) {
      log::warn("API socket: accept failed: %s; retrying", ec.message().c_str());
    }
    retry_timer_.expires_after(kAcceptRetryDelay);
    retry_timer_.async_wait([self = shared_from_this()](const error_code& wec) {
      if (!wec) self->accept();
    });
    return;
  }
  accept_failing_ = false;
  int fd = socket.native_handle();
  auto connection = std::make_shared<HttpConnection>(std::move(socket), core_);
  switch (core_->admit(connection, fd)) {
    case HttpServerCore::Admission::serve:
      net::post(connection->executor(), [connection] { connection->serve(); });
      break;
    case HttpServerCore::Admission::reject:
      net::post(connection->executor(), [connection] { connection->reject(); });
      break;
    case HttpServerCore::Admission::stopped: break;  // dropped: the socket closes with it
  }
  accept();
}

}  // namespace tide::vmm::api
