#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace tide::test {

Process::Process(std::vector<std::string> argv, std::vector<std::string> extra_env) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  for (auto& e : extra_env) env_store.push_back(e);
  std::vector<char*> env;
  for (auto& e : env_store) env.push_back(e.data());
  env.push_back(nullptr);
  if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), env.data()) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  stdin_fd_ = in[1];
  out_thread_ = std::thread([this, fd = out[0]] { reader(fd, true); });
  err_thread_ = std::thread([this, fd = err[0]] { reader(fd, false); });
}

Process::~Process() {
  if (pid_ > 0 && !exited_) {
    kill(SIGKILL);
    wait(std::chrono::seconds(30));
  }
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
}

void Process::reader(int fd, bool is_stdout) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    std::lock_guard lock(mutex_);
    all_.append(buf, static_cast<size_t>(n));
    if (is_stdout) out_.append(buf, static_cast<size_t>(n));
  }
  close(fd);
}

bool Process::wait_for_output(const std::string& text, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      if (all_.find(text) != std::string::npos) return true;
    }
    int st = 0;
    if (!exited_ && waitpid(pid_, &st, WNOHANG) == pid_) {
      exited_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    if (exited_) {
      if (out_thread_.joinable()) out_thread_.join();
      if (err_thread_.joinable()) err_thread_.join();
      std::lock_guard lock(mutex_);
      return all_.find(text) != std::string::npos;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

int Process::wait(std::chrono::seconds limit) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!exited_) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out_ = true;
      ::kill(pid_, SIGKILL);
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
  return status_;
}

void Process::kill(int sig) {
  if (pid_ > 0 && !exited_) ::kill(pid_, sig);
}

std::string Process::output() const {
  std::lock_guard lock(mutex_);
  return all_;
}

std::string Process::stdout_text() const {
  std::lock_guard lock(mutex_);
  return out_;
}

void Process::write_stdin(const std::string& text) {
  if (stdin_fd_ >= 0) {
    ssize_t n = ::write(stdin_fd_, text.data(), text.size());
    (void)n;
  }
}

RunResult run_command(std::vector<std::string> argv, std::chrono::seconds limit) {
  Process p(std::move(argv));
  RunResult r;
  r.status = p.wait(limit);
  r.output = p.output();
  r.out = p.stdout_text();
  return r;
}

}  // namespace tide::test
