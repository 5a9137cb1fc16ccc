// FaultPoller: waits for userfaultfd events of many windows at once (epoll), plus a wake
// event for control. Used only by the fault server thread (add/remove from any thread).
#pragma once

#include <cstdint>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/base/unique_fd.hpp"

namespace tide::gmm::host {

class FaultPoller {
 public:
  [[nodiscard]] static Result<FaultPoller> create();
  // Watches `fd` for readability, reporting `tag` when it is.
  [[nodiscard]] Status add(int fd, uint64_t tag);
  void remove(int fd);
  // Blocks until something is readable or wake() was called; returns the tags that are
  // readable (empty after a wake).
  [[nodiscard]] Result<std::vector<uint64_t>> wait();
  void wake();

 private:
  UniqueFd epoll_;
  UniqueFd event_;
};

}  // namespace tide::gmm::host
