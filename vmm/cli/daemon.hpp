// The daemon shape shared by `tide host` (tide's API, many guests) and `tide ch-compat`
// (Cloud Hypervisor's API, one VM): an event loop for devices, a control loop for API
// requests, a work loop for the requests that may block a while (memcg limits that
// reclaim), a GuestManager over one pool, an HTTP server, and an orderly end on SIGINT,
// SIGTERM or an API shutdown — server first, then the API's loops, then every guest.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "vmm/api/http.hpp"
#include "vmm/host/guest_manager.hpp"
#include "vmm/machine/event_loop.hpp"

namespace tide::vmm {

struct DaemonSpec {
  std::string what;  // "tide host", "tide ch-compat" (for messages)
  HostOptions host;
  // Opens the server on the event loop with the given handler.
  std::function<Result<std::unique_ptr<api::HttpServer>>(boost::asio::io_context&, api::HttpHandler)> listen;
  // Builds the API handler; `shutdown` ends the daemon.
  std::function<api::HttpHandler(GuestManager&, EventLoop& control, EventLoop& work, std::function<void()> shutdown)>
      api;
};

// Runs until a signal or an API shutdown; returns the process exit status.
int run_daemon(const DaemonSpec& spec);

}  // namespace tide::vmm
