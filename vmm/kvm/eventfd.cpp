#include "vmm/kvm/eventfd.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

namespace tide::vmm {

Result<EventFd> EventFd::create() {
  EventFd e;
  e.fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!e.fd_) return errno_error("eventfd");
  return e;
}

void EventFd::signal() const {
  uint64_t one = 1;
  ssize_t rc = ::write(fd_.get(), &one, sizeof one);
  (void)rc;  // EAGAIN means the counter is saturated: still signalled.
}

uint64_t EventFd::consume() const {
  uint64_t v = 0;
  return ::read(fd_.get(), &v, sizeof v) == static_cast<ssize_t>(sizeof v) ? v : 0;
}

}  // namespace tide::vmm
