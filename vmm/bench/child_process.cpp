// ChildProcess: fork and exec rather than posix_spawn, because the child must ask for
// PR_SET_PDEATHSIG before exec (posix_spawn has no hook for it). Everything the child
// needs is prepared before fork; between fork and exec it calls only async-signal-safe
// functions, so this is safe in a process with threads (tide's subject runs a machine).
#include "vmm/bench/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <thread>
#include <utility>

namespace tide::vmm::bench {
namespace {

int decode_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

// Runs in the child between fork and exec: async-signal-safe calls only. On failure the
// errno goes to the parent through `report_fd` (close-on-exec, so a successful exec
// closes it and the parent reads end-of-file).
[[noreturn]] void exec_child(char* const* argv, pid_t parent, int log_fd, int null_fd, int report_fd) {
  // Die with tide; if tide already died before prctl, the parent is no longer `parent`.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
  // Its own process group: a Ctrl-C at the terminal reaches tide, which then stops it.
  setpgid(0, 0);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) {
    int e = errno;
    (void)!write(report_fd, &e, sizeof e);
    _exit(127);
  }
  execv(argv[0], argv);
  int e = errno;
  (void)!write(report_fd, &e, sizeof e);
  _exit(127);
}

}  // namespace

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return make_error(std::errc::invalid_argument, "no program to run");
  std::vector<std::string> store(argv);
  std::vector<char*> args;
  for (auto& a : store) args.push_back(a.data());
  args.push_back(nullptr);

  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return errno_error("create " + log_path);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    Error e = errno_error("open /dev/null");
    ::close(log_fd);
    return e;
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    Error e = errno_error("pipe");
    ::close(log_fd);
    ::close(null_fd);
    return e;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) exec_child(args.data(), parent, log_fd, null_fd, report[1]);
  int fork_errno = errno;
  ::close(log_fd);
  ::close(null_fd);
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    errno = fork_errno;
    return errno_error("fork for " + argv[0]);
  }
  // Blocks until exec succeeds (end of file) or the child reports why it failed.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  ChildProcess child(pid);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    child.kill_and_reap();
    errno = child_errno;
    return errno_error("run " + argv[0]);
  }
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) kill_and_reap();
}

bool ChildProcess::try_reap() {
  if (pid_ <= 0 || status_) return true;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = decode_status(st);
    return true;
  }
  // ECHILD: someone else reaped it (cannot tell its status); treat it as gone.
  if (r < 0 && errno == ECHILD) {
    status_ = -1;
    return true;
  }
  return false;
}

bool ChildProcess::running() { return !try_reap(); }

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  // Polling keeps this free of SIGCHLD handling, which belongs to the whole process.
  while (!try_reap()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

int ChildProcess::kill_and_reap() {
  if (pid_ <= 0) return -1;
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    pid_t r;
    do {
      r = waitpid(pid_, &st, 0);
    } while (r < 0 && errno == EINTR);
    status_ = r == pid_ ? decode_status(st) : -1;
  }
  return *status_;
}

std::string file_tail(const std::string& path, size_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  f.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(std::max<std::streamoff>(f.tellg(), 0));
  const size_t from = size > max_bytes ? size - max_bytes : 0;
  f.seekg(static_cast<std::streamoff>(from));
  std::string text(size - from, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(f.gcount()));
  if (from > 0) {
    if (auto nl = text.find('\n'); nl != std::string::npos) text.erase(0, nl + 1);
  }
  return text;
}

}  // namespace tide::vmm::bench
