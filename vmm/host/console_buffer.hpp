// ConsoleBuffer: what a guest wrote to its serial console under `tide host` — the last
// bytes kept in memory (for the API and `tide ctl console`), and optionally copied to a
// PTY (Cloud Hypervisor's "Pty" console, which libvirt connects to) or a file. Writes come
// from vCPU threads and never block them: a PTY nobody reads drops what does not fit.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>

#include "guestmm/base/error.hpp"
#include "guestmm/base/unique_fd.hpp"
#include "vmm/config/guest_config.hpp"

namespace tide::vmm {

class ConsoleBuffer {
 public:
  static constexpr size_t kKeepBytes = 1 << 20;

  // Opens the sink that `config` asks for (a new PTY, or the file, appended); for a PTY,
  // returns the config with `path` set to the PTY's slave path.
  [[nodiscard]] Result<ConsoleConfig> open(const ConsoleConfig& config);
  // Guest output. Thread: vCPU threads.
  void write(std::span<const uint8_t> bytes);
  // Bytes received from the PTY side (typed by whoever is attached), if any.
  [[nodiscard]] int input_fd() const { return pty_.get(); }
  // The kept output from byte `from` of the whole stream (earlier bytes may be gone);
  // `next` is the offset to ask for next time.
  [[nodiscard]] std::string read(uint64_t from, uint64_t* next) const;
  [[nodiscard]] uint64_t total() const;

 private:
  mutable std::mutex mutex_;
  std::deque<char> kept_;
  uint64_t total_ = 0;
  UniqueFd pty_;   // PTY master
  UniqueFd file_;
};

}  // namespace tide::vmm
