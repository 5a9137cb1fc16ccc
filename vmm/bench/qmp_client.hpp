// QmpClient: a small blocking client of QEMU's machine protocol (QMP) over a Unix socket,
// for the balloon experiment's QEMU side. It connects (retrying until a deadline while
// QEMU creates its socket), reads the greeting, enters command mode (qmp_capabilities),
// then runs one command at a time. Asynchronous events are skipped; answers are matched
// to commands by id, so a late answer to a timed-out command is never taken for the next.
// Move-only; one thread at a time.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "guestmm/base/error.hpp"

namespace tide::vmm::bench {

class QmpClient {
 public:
  using Clock = std::chrono::steady_clock;

  // Connects to the QMP socket at `socket_path`, retrying every 10 ms until `deadline`
  // while the socket is missing or refuses; `keep_trying` (if given) is asked before each
  // retry and ends the attempt early when it returns false (QEMU exited). Then the
  // greeting and qmp_capabilities, within `deadline` too. Errors: timed_out (nothing
  // answered by the deadline), connection_aborted (keep_trying said stop), the QEMU side
  // closed the socket, a greeting that is not QMP.
  [[nodiscard]] static Result<QmpClient> connect(const std::string& socket_path, Clock::time_point deadline,
                                                 const std::function<bool()>& keep_trying = {});

  QmpClient(QmpClient&&) noexcept;
  QmpClient& operator=(QmpClient&&) noexcept;
  ~QmpClient();

  // Runs `command` with `arguments` (omitted when empty) and returns its "return" value.
  // Errors: the command's error (context "COMMAND: DESC", code invalid_argument),
  // timed_out after `timeout`, the connection closed (broken_pipe), malformed JSON.
  [[nodiscard]] Result<boost::json::value> execute(std::string_view command,
                                                   const boost::json::object& arguments = {},
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The greeting's QEMU version ("7.2.22"), for messages.
  [[nodiscard]] const std::string& qemu_version() const;
  // Number of asynchronous events skipped so far.
  [[nodiscard]] uint64_t events_skipped() const;

 private:
  struct Impl;
  explicit QmpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tide::vmm::bench
