#include "guestmm/fault_server.hpp"

#include <pthread.h>
#include <signal.h>

#include "guestmm/base/log.hpp"

namespace tide::gmm {

Result<std::unique_ptr<FaultServer>> FaultServer::create(ErrorFn on_error) {
  TIDE_TRY_ASSIGN(poller, host::FaultPoller::create());
  std::unique_ptr<FaultServer> s(new FaultServer(std::move(poller), std::move(on_error)));
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

FaultServer::~FaultServer() {
  stop_.store(true);
  poller_.wake();
  if (thread_.joinable()) thread_.join();
}

Status FaultServer::add(GuestMm& guest) {
  std::lock_guard l(mutex_);
  uint64_t tag = next_tag_++;
  TIDE_TRY(poller_.add(guest.window().fault_fd(), tag));
  guests_[tag] = &guest;
  return ok();
}

void FaultServer::remove(GuestMm& guest) {
  std::lock_guard l(mutex_);
  for (auto it = guests_.begin(); it != guests_.end(); ++it) {
    if (it->second == &guest) {
      poller_.remove(guest.window().fault_fd());
      guests_.erase(it);
      return;
    }
  }
}

void FaultServer::run() {
  pthread_setname_np(pthread_self(), "tide-faults");
  // Signals meant for vCPU threads must not interrupt this one.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  while (!stop_.load()) {
    auto tags = poller_.wait();
    if (!tags) {
      log::error("fault server: %s", tags.error().message().c_str());
      return;
    }
    std::lock_guard l(mutex_);
    for (uint64_t tag : *tags) {
      auto it = guests_.find(tag);
      if (it == guests_.end()) continue;  // removed meanwhile
      GuestMm& g = *it->second;
      // Drain every pending fault of this window before waiting again.
      for (;;) {
        auto fault = g.window().read_fault();
        if (!fault) {
          on_error_(g, fault.error());
          break;
        }
        if (!*fault) break;
        if (auto st = g.handle_fault(**fault); !st) {
          on_error_(g, st.error());
        } else {
          served_.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  }
}

}  // namespace tide::gmm
