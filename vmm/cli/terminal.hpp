// Terminal: the guest console on tide's own terminal. Guest output goes to stdout as it
// comes; stdin is forwarded to the guest's UART by a reader thread (a TTY is switched to
// raw input for the run and restored on every exit path; Ctrl-A x ends the VM, as in QEMU).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <thread>

#include "vmm/kvm/eventfd.hpp"

namespace tide::vmm {

class Terminal {
 public:
  using InputFn = std::function<void(std::span<const uint8_t>)>;
  Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;
  ~Terminal();

  // Starts forwarding stdin to `on_input`; `on_quit` runs on Ctrl-A x. Thread: owner.
  void start(InputFn on_input, std::function<void()> on_quit);
  // Writes guest output to stdout. Thread: any.
  static void write_output(std::span<const uint8_t> bytes);
  // Stops the reader and restores the terminal. Idempotent.
  void stop();

 private:
  void reader();
  InputFn on_input_;
  std::function<void()> on_quit_;
  std::thread thread_;
  EventFd stop_fd_;
  bool raw_ = false;
  struct SavedMode;
  std::unique_ptr<SavedMode> saved_;
};

}  // namespace tide::vmm
