// QmpClient over Boost.Asio: a private io_context run until each operation's deadline;
// an operation that misses its deadline is cancelled and drained before returning, so
// the socket is never left with a handler pending. QMP frames are JSON objects, one per
// line ("\r\n"); bytes read past a line stay buffered for the next message.
#include "vmm/bench/qmp_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <thread>

#include "guestmm/base/log.hpp"

namespace tide::vmm::bench {
namespace net = boost::asio;
namespace json = boost::json;
using boost::system::error_code;

namespace {

// No QMP answer tide asks for comes near this; a larger line means a broken peer.
constexpr size_t kMaxLineBytes = 16 * 1024 * 1024;
constexpr auto kConnectRetry = std::chrono::milliseconds(10);

long long ms_left(QmpClient::Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - QmpClient::Clock::now()).count();
  return left > 0 ? static_cast<long long>(left) : 0;
}

}  // namespace

struct QmpClient::Impl {
  explicit Impl(std::string path) : socket_path(std::move(path)) {}

  std::string socket_path;
  net::io_context io;
  net::local::stream_protocol::socket socket{io};
  std::string buffer;  // received, not yet consumed
  uint64_t next_id = 1;
  uint64_t events = 0;
  std::string version;

  Error fail(std::errc code, const std::string& what) const {
    return make_error(code, "QMP " + socket_path + ": " + what);
  }

  // Runs the io_context until `done` is set or the deadline; then cancels what is still
  // pending and runs its handlers to completion. Returns whether `done` was set in time.
  bool run_until(const bool& done, Clock::time_point deadline) {
    io.restart();
    io.run_until(deadline);
    if (done) return true;
    error_code ignored;
    socket.cancel(ignored);
    io.restart();
    io.run();
    return false;
  }

  Status write_line(const std::string& text, Clock::time_point deadline, std::string_view what) {
    std::string line = text + "\r\n";
    bool done = false;
    error_code ec;
    net::async_write(socket, net::buffer(line), [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    });
    if (!run_until(done, deadline)) return fail(std::errc::timed_out, "could not send " + std::string(what) + " in time");
    if (ec) return fail(std::errc::broken_pipe, "sending " + std::string(what) + ": " + ec.message());
    return ok();
  }

  // The next complete message, as a JSON object.
  Result<json::object> read_message(Clock::time_point deadline, std::string_view waiting_for) {
    for (;;) {
      if (auto nl = buffer.find('\n'); nl != std::string::npos) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        error_code ec;
        json::value v = json::parse(line, ec);
        if (ec || !v.is_object()) {
          if (line.size() > 200) line = line.substr(0, 200) + "...";
          return fail(std::errc::bad_message, "not a QMP message: " + line);
        }
        return std::move(v.as_object());
      }
      if (buffer.size() > kMaxLineBytes) return fail(std::errc::bad_message, "message longer than 16 MiB");
      std::array<char, 4096> chunk;
      bool done = false;
      error_code ec;
      size_t n = 0;
      socket.async_read_some(net::buffer(chunk), [&](const error_code& e, size_t k) {
        ec = e;
        n = k;
        done = true;
      });
      if (!run_until(done, deadline)) {
        return fail(std::errc::timed_out, "no answer to " + std::string(waiting_for) + " in time");
      }
      buffer.append(chunk.data(), n);
      if (ec == net::error::eof) return fail(std::errc::broken_pipe, "QEMU closed the connection (did it exit?)");
      if (ec) return fail(std::errc::broken_pipe, "reading: " + ec.message());
    }
  }
};

QmpClient::QmpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QmpClient::QmpClient(QmpClient&&) noexcept = default;
QmpClient& QmpClient::operator=(QmpClient&&) noexcept = default;
QmpClient::~QmpClient() = default;

const std::string& QmpClient::qemu_version() const { return impl_->version; }
uint64_t QmpClient::events_skipped() const { return impl_->events; }

Result<QmpClient> QmpClient::connect(const std::string& socket_path, Clock::time_point deadline,
                                     const std::function<bool()>& keep_trying) {
  auto impl = std::make_unique<Impl>(socket_path);
  // sockaddr_un's path is 108 bytes; Asio would fail with a less helpful message.
  if (socket_path.size() >= 108) {
    return impl->fail(std::errc::filename_too_long, "path too long for a Unix socket (use a shorter directory)");
  }
  const net::local::stream_protocol::endpoint endpoint(socket_path);
  error_code last;
  for (;;) {
    error_code ec;
    impl->socket.connect(endpoint, ec);
    if (!ec) break;
    last = ec;
    impl->socket.close(ec);
    // Missing or refusing: QEMU has not created or opened its socket yet. Anything else
    // (permissions, not a socket) will not get better by waiting.
    if (last != net::error::connection_refused && last != boost::system::errc::no_such_file_or_directory) {
      return impl->fail(std::errc::connection_refused, "cannot connect: " + last.message());
    }
    if (keep_trying && !keep_trying()) return impl->fail(std::errc::connection_aborted, "QEMU exited before its socket answered");
    if (Clock::now() + kConnectRetry >= deadline) {
      return impl->fail(std::errc::timed_out, "no QMP socket before the deadline (" + last.message() + ")");
    }
    std::this_thread::sleep_for(kConnectRetry);
  }

  TIDE_TRY_ASSIGN(greeting, impl->read_message(deadline, "the connection (greeting)"));
  const json::value* qmp = greeting.if_contains("QMP");
  if (!qmp || !qmp->is_object()) return impl->fail(std::errc::bad_message, "the peer did not greet as QMP");
  if (const json::value* q = qmp->as_object().if_contains("version")) {
    if (q->is_object()) {
      if (const json::value* v = q->as_object().if_contains("qemu"); v && v->is_object()) {
        const auto& o = v->as_object();
        auto part = [&](const char* k) {
          const json::value* p = o.if_contains(k);
          return p && p->is_int64() ? std::to_string(p->as_int64()) : std::string("?");
        };
        impl->version = part("major") + "." + part("minor") + "." + part("micro");
      }
    }
  }
  QmpClient client(std::move(impl));
  auto left = std::chrono::milliseconds(std::max<long long>(ms_left(deadline), 1));
  TIDE_TRY(client.execute("qmp_capabilities", {}, left));
  return client;
}

Result<json::value> QmpClient::execute(std::string_view command, const json::object& arguments,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string what = "'" + std::string(command) + "'";
  const std::string id = "tide-" + std::to_string(impl_->next_id++);
  json::object request{{"execute", command}, {"id", id}};
  if (!arguments.empty()) request["arguments"] = arguments;
  TIDE_TRY(impl_->write_line(json::serialize(request), deadline, what));
  for (;;) {
    TIDE_TRY_ASSIGN(message, impl_->read_message(deadline, what));
    if (message.contains("event")) {
      ++impl_->events;
      continue;
    }
    const json::value* got = message.if_contains("id");
    // An answer to an earlier command that timed out: it is not ours.
    if (!got || !got->is_string() || got->as_string() != id) continue;
    if (json::value* ret = message.if_contains("return")) return std::move(*ret);
    if (const json::value* err = message.if_contains("error"); err && err->is_object()) {
      const json::value* desc = err->as_object().if_contains("desc");
      std::string text = desc && desc->is_string() ? std::string(desc->as_string()) : json::serialize(*err);
      return make_error(std::errc::invalid_argument, "QMP " + std::string(command) + ": " + text);
    }
    return impl_->fail(std::errc::bad_message, "answer to " + what + " has neither return nor error");
  }
}

}  // namespace tide::vmm::bench
