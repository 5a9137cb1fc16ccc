#include "vmm/cli/terminal.hpp"

#include <poll.h>
#include <termios.h>
#include <unistd.h>

namespace tide::vmm {

struct Terminal::SavedMode {
  termios mode;
};

Terminal::Terminal() = default;
Terminal::~Terminal() { stop(); }

void Terminal::start(InputFn on_input, std::function<void()> on_quit) {
  on_input_ = std::move(on_input);
  on_quit_ = std::move(on_quit);
  auto fd = EventFd::create();
  if (!fd) return;  // no input forwarding; output still works
  stop_fd_ = std::move(*fd);
  if (isatty(STDIN_FILENO)) {
    saved_ = std::make_unique<SavedMode>();
    if (tcgetattr(STDIN_FILENO, &saved_->mode) == 0) {
      termios raw = saved_->mode;
      // Raw input (no line editing, echo or signal keys) but keep output processing so
      // the guest's "\n" still returns the carriage.
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
      raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
      raw.c_cc[VMIN] = 1;
      raw.c_cc[VTIME] = 0;
      raw_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
  }
  thread_ = std::thread([this] { reader(); });
}

void Terminal::reader() {
  bool escape = false;
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop_fd_.fd(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!fds[0].revents) continue;
    uint8_t buf[256];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) return;  // EOF: nothing more to forward
    size_t out = 0;
    for (ssize_t i = 0; i < n; ++i) {
      uint8_t c = buf[i];
      if (raw_ && escape) {
        escape = false;
        if (c == 'x') {
          if (on_quit_) on_quit_();
          return;
        }
        if (c != 0x01) buf[out++] = 0x01;
      } else if (raw_ && c == 0x01) {
        escape = true;
        continue;
      }
      buf[out++] = c;
    }
    if (out && on_input_) on_input_(std::span<const uint8_t>(buf, out));
  }
}

void Terminal::write_output(std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(STDOUT_FILENO, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout closed: the guest's output is dropped, the VM goes on
    done += static_cast<size_t>(n);
  }
}

void Terminal::stop() {
  if (thread_.joinable()) {
    stop_fd_.signal();
    thread_.join();
  }
  if (saved_) {
    if (raw_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_->mode);
    saved_.reset();
    raw_ = false;
  }
}

}  // namespace tide::vmm
