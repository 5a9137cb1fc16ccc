// HttpServer::listen/adopt: a listener and a core behind the HttpServer interface. The
// server object itself holds no I/O state: the core and listener are shared with pending
// operations, so they outlive it until the io_context has finished with them.
#include <mutex>
#include <string>
#include <utility>

#include "vmm/api/http.hpp"
#include "vmm/api/http_listener.hpp"
#include "vmm/api/http_server_core.hpp"
#include "vmm/api/http_unix_socket.hpp"

namespace tide::vmm::api {

namespace {

constexpr int kListenBacklog = 128;

class UnixHttpServer final : public HttpServer {
 public:
  UnixHttpServer(std::shared_ptr<HttpServerCore> core, std::shared_ptr<HttpListener> listener)
      : core_(std::move(core)), listener_(std::move(listener)) {}
  UnixHttpServer(std::shared_ptr<HttpServerCore> core, std::shared_ptr<HttpListener> listener, std::string path,
                 dev_t dev, ino_t ino)
      : core_(std::move(core)), listener_(std::move(listener)), path_(std::move(path)), dev_(dev), ino_(ino) {}
  ~UnixHttpServer() override { stop(); }
  UnixHttpServer(const UnixHttpServer&) = delete;
  UnixHttpServer& operator=(const UnixHttpServer&) = delete;

  void stop() override {
    listener_->stop();
    core_->stop();
    // The file goes with the server that made it (an adopted socket's file is the
    // parent's business); a newer server's file at the same path is left alone.
    std::call_once(file_removed_, [this] {
      if (!path_.empty()) remove_unix_socket_file(path_, dev_, ino_);
    });
  }

  [[nodiscard]] size_t connections() const override { return core_->connections(); }

 private:
  std::shared_ptr<HttpServerCore> core_;
  std::shared_ptr<HttpListener> listener_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::once_flag file_removed_;
};

Status check_limits(const HttpLimits& limits) {
  if (limits.read_timeout.count() <= 0 || limits.idle_timeout.count() <= 0) {
    return make_error(std::errc::invalid_argument, "HTTP limits: the timeouts must be at least 1 s");
  }
  return ok();
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::listen(boost::asio::io_context& io, const std::string& path,
                                                       HttpHandler handler, HttpLimits limits) {
  TIDE_TRY(check_limits(limits));
  TIDE_TRY_ASSIGN(file, listen_unix_socket(path, kListenBacklog));
  auto core = std::make_shared<HttpServerCore>(std::move(handler), limits);
  auto listener = std::make_shared<HttpListener>(io, core);
  if (auto started = listener->start(std::move(file.fd)); !started) {
    remove_unix_socket_file(path, file.dev, file.ino);
    return started.error();
  }
  return std::unique_ptr<HttpServer>(
      std::make_unique<UnixHttpServer>(std::move(core), std::move(listener), path, file.dev, file.ino));
}

Result<std::unique_ptr<HttpServer>> HttpServer::adopt(boost::asio::io_context& io, int listening_fd,
                                                      HttpHandler handler, HttpLimits limits) {
  UniqueFd fd(listening_fd);  // owned from here on, also when refused
  TIDE_TRY(check_limits(limits));
  TIDE_TRY(check_listening_unix_socket(fd.get()));
  auto core = std::make_shared<HttpServerCore>(std::move(handler), limits);
  auto listener = std::make_shared<HttpListener>(io, core);
  TIDE_TRY(listener->start(std::move(fd)));
  return std::unique_ptr<HttpServer>(std::make_unique<UnixHttpServer>(std::move(core), std::move(listener)));
}

}  // namespace tide::vmm::api
