#include "vmm/cli/daemon.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <future>
#include <thread>

#include "guestmm/base/log.hpp"

namespace tide::vmm {

int run_daemon(const DaemonSpec& spec) {
  EventLoop events;
  EventLoop control;
  EventLoop work;
  auto guests = GuestManager::create(spec.host, events);
  if (!guests) {
    log::error("%s: %s", spec.what.c_str(), guests.error().message().c_str());
    return 1;
  }
  events.start("tide-events");
  control.start("tide-control");
  work.start("tide-work");

  std::promise<int> done;
  std::once_flag once;
  auto finish = [&](int status) { std::call_once(once, [&] { done.set_value(status); }); };

  auto handler = spec.api(**guests, control, work, [&] { finish(0); });
  auto server = spec.listen(events.context(), std::move(handler));
  if (!server) {
    log::error("%s: %s", spec.what.c_str(), server.error().message().c_str());
    control.stop();
    work.stop();
    events.stop();
    return 1;
  }
  boost::asio::signal_set signals(events.context(), SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log::info("%s: stopping (signal %d)", spec.what.c_str(), sig);
    finish(0);
  });
  log::info("%s: ready (pool %llu MiB, KVM host: %s)", spec.what.c_str(),
            static_cast<unsigned long long>((*guests)->options().pool_bytes >> 20), host_kind_name((*guests)->host_kind()));

  const int status = done.get_future().get();
  // The answer to host-shutdown may still be on its way: let open connections finish
  // (clients close after reading), for at most 2 s.
  for (int i = 0; i < 200 && (*server)->connections() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*server)->stop();
  std::promise<void> cancelled;
  boost::asio::post(events.context(), [&] {
    signals.cancel();
    cancelled.set_value();
  });
  cancelled.get_future().wait();
  control.stop();         // no API request runs any more
  work.stop();
  guests->reset();        // every guest stops; its memory returns to the pool
  events.stop();
  log::info("%s: stopped", spec.what.c_str());
  return status;
}

}  // namespace tide::vmm
