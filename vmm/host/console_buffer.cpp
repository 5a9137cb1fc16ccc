#include "vmm/host/console_buffer.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>

namespace tide::vmm {

Result<ConsoleConfig> ConsoleBuffer::open(const ConsoleConfig& config) {
  ConsoleConfig out = config;
  if (config.kind == ConsoleConfig::Kind::pty) {
    UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    if (!master) return errno_error("open a PTY for the guest console");
    if (::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0) return errno_error("set up the console PTY");
    char name[128];
    if (::ptsname_r(master.get(), name, sizeof name) != 0) return errno_error("name the console PTY");
    // Raw: the guest's bytes pass through untouched.
    termios t{};
    if (::tcgetattr(master.get(), &t) == 0) {
      ::cfmakeraw(&t);
      ::tcsetattr(master.get(), TCSANOW, &t);
    }
    out.path = name;
    pty_ = std::move(master);
  } else if (config.kind == ConsoleConfig::Kind::file) {
    file_.reset(::open(config.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0600));
    if (!file_) return errno_error("open the console log " + config.path);
  }
  return out;
}

void ConsoleBuffer::write(std::span<const uint8_t> bytes) {
  std::lock_guard l(mutex_);
  total_ += bytes.size();
  kept_.insert(kept_.end(), bytes.begin(), bytes.end());
  if (kept_.size() > kKeepBytes) kept_.erase(kept_.begin(), kept_.begin() + static_cast<long>(kept_.size() - kKeepBytes));
  // Non-blocking sinks: what does not fit is dropped rather than stalling the vCPU.
  if (pty_) {
    ssize_t n = ::write(pty_.get(), bytes.data(), bytes.size());
    (void)n;
  }
  if (file_) {
    ssize_t n = ::write(file_.get(), bytes.data(), bytes.size());
    (void)n;
  }
}

std::string ConsoleBuffer::read(uint64_t from, uint64_t* next) const {
  std::lock_guard l(mutex_);
  const uint64_t first = total_ - kept_.size();
  const uint64_t start = std::max(from, first);
  *next = total_;
  if (start >= total_) return {};
  return std::string(kept_.begin() + static_cast<long>(start - first), kept_.end());
}

uint64_t ConsoleBuffer::total() const {
  std::lock_guard l(mutex_);
  return total_;
}

}  // namespace tide::vmm
