// ChildProcess: a program the balloon experiment runs beside tide (QEMU, gnuplot), its
// stdin on /dev/null and its stdout and stderr appended to one log file. It dies with
// tide (PR_SET_PDEATHSIG), so a crashed experiment leaves no QEMU holding guest memory.
// The owner reaps it: the destructor kills (SIGKILL) and reaps a child still running.
// Move-only; one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "guestmm/base/error.hpp"

namespace tide::vmm::bench {

class ChildProcess {
 public:
  // Starts argv[0] (a path, not looked up in PATH) with `argv`; its output goes to
  // `log_path` (created or truncated). Errors: the log cannot be created, the program
  // cannot be executed (the error names it).
  [[nodiscard]] static Result<ChildProcess> spawn(const std::vector<std::string>& argv, const std::string& log_path);

  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it, without waiting, if it has).
  [[nodiscard]] bool running();
  // Waits up to `limit` for the child to exit. Returns its status (exit code, or 128+N
  // after signal N), nullopt if it is still running.
  [[nodiscard]] std::optional<int> wait_for(std::chrono::milliseconds limit);
  // SIGKILL, then reaps it. Returns the status (see wait_for).
  int kill_and_reap();
  // The status once reaped.
  [[nodiscard]] std::optional<int> status() const { return status_; }

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  bool try_reap();
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// The last `max_bytes` of a text file ("" if it cannot be read), cut at a line start;
// for error messages that show the end of a log.
[[nodiscard]] std::string file_tail(const std::string& path, size_t max_bytes = 2048);

}  // namespace tide::vmm::bench
