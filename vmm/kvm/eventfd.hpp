// EventFd: an owned eventfd(2) — the currency of irqfd (VMM -> guest interrupts) and
// ioeventfd (guest doorbells -> VMM). signal() and consume() may be called from any thread.
#pragma once

#include <cstdint>

#include "guestmm/base/error.hpp"
#include "guestmm/base/unique_fd.hpp"

namespace tide::vmm {

class EventFd {
 public:
  // Non-blocking, close-on-exec.
  [[nodiscard]] static Result<EventFd> create();
  [[nodiscard]] int fd() const { return fd_.get(); }
  // Adds 1 to the counter. Never blocks; an overflowing counter is already "signalled".
  void signal() const;
  // Reads and clears the counter; 0 if it was not signalled.
  uint64_t consume() const;

 private:
  UniqueFd fd_;
};

}  // namespace tide::vmm
