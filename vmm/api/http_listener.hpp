// HttpListener: the accept loop of an HttpServer. It owns the listening socket (on its own
// strand), gives each accepted client a strand and an HttpConnection, and lets the core
// decide between serving and 503. Transient accept failures (out of fds) are retried after
// a pause instead of spinning. stop() may be called from any thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <mutex>

#include "guestmm/base/error.hpp"
#include "guestmm/base/unique_fd.hpp"

namespace tide::vmm::api {

class HttpServerCore;

class HttpListener : public std::enable_shared_from_this<HttpListener> {
 public:
  HttpListener(boost::asio::io_context& io, std::shared_ptr<HttpServerCore> core);
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Takes the listening socket and starts accepting (on the io_context's threads).
  // Errors: Asio cannot adopt the fd. Thread: before the listener is shared.
  [[nodiscard]] Status start(UniqueFd listening_fd);
  // Stops accepting: the socket is shut down at once (new clients are refused) and closed
  // on the strand. Thread: any.
  void stop();

 private:
  using Socket = boost::asio::local::stream_protocol::socket;
  void accept();
  void on_accept(const boost::system::error_code& ec, Socket socket);
  void close_acceptor();
  [[nodiscard]] bool stopped() const;

  boost::asio::io_context& io_;
  const boost::asio::any_io_executor executor_;  // strand
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  const std::shared_ptr<HttpServerCore> core_;
  mutable std::mutex mutex_;  // guards fd_ and stopped_
  int fd_ = -1;               // the acceptor's fd while open, for stop() from other threads
  bool stopped_ = false;
  bool accept_failing_ = false;  // strand: logged once per run of failures
};

}  // namespace tide::vmm::api
