#include "guestmm/host/fault_poller.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace tide::gmm::host {

namespace {
constexpr uint64_t kWakeTag = UINT64_MAX;
}

Result<FaultPoller> FaultPoller::create() {
  FaultPoller p;
  p.epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!p.epoll_) return errno_error("epoll_create1");
  p.event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!p.event_) return errno_error("eventfd");
  TIDE_TRY(p.add(p.event_.get(), kWakeTag));
  return p;
}

Status FaultPoller::add(int fd, uint64_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return errno_error("epoll_ctl add");
  return ok();
}

void FaultPoller::remove(int fd) { ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr); }

Result<std::vector<uint64_t>> FaultPoller::wait() {
  epoll_event evs[64];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("epoll_wait");
    }
    std::vector<uint64_t> tags;
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.u64 == kWakeTag) {
        uint64_t v = 0;
        ssize_t r = ::read(event_.get(), &v, sizeof v);
        (void)r;
        continue;
      }
      tags.push_back(evs[i].data.u64);
    }
    return tags;
  }
}

void FaultPoller::wake() {
  uint64_t one = 1;
  ssize_t r = ::write(event_.get(), &one, sizeof one);
  (void)r;
}

}  // namespace tide::gmm::host
