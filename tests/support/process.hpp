// Process: runs a command (tide, QEMU) as a child, collecting its stdout and stderr, with
// a way to wait for a line to appear and a hard time limit after which it is killed. The
// limit only guards against hangs; tests assert on output and status, never on time.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tide::test {

class Process {
 public:
  explicit Process(std::vector<std::string> argv, std::vector<std::string> extra_env = {});
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  [[nodiscard]] int pid() const { return pid_; }
  // Waits until `text` appears in stdout+stderr or the process ends or `limit` passes.
  bool wait_for_output(const std::string& text, std::chrono::seconds limit);
  // Waits for exit (killing it after `limit`); returns the exit status, 128+signal if killed.
  int wait(std::chrono::seconds limit);
  void kill(int sig);
  [[nodiscard]] std::string output() const;  // stdout and stderr interleaved
  [[nodiscard]] std::string stdout_text() const;
  [[nodiscard]] bool timed_out() const { return timed_out_; }
  // Writes to the child's stdin.
  void write_stdin(const std::string& text);

 private:
  void reader(int fd, bool is_stdout);
  int pid_ = -1;
  int stdin_fd_ = -1;
  std::thread out_thread_, err_thread_;
  mutable std::mutex mutex_;
  std::string all_, out_;
  bool exited_ = false;
  int status_ = -1;
  bool timed_out_ = false;
};

// Runs to completion (hard limit) and returns {status, output}.
struct RunResult {
  int status = -1;
  std::string output;
  std::string out;
};
RunResult run_command(std::vector<std::string> argv, std::chrono::seconds limit = std::chrono::seconds(120));

}  // namespace tide::test
