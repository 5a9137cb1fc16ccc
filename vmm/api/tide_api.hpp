// tide's own control API (HTTP/1.1 + JSON on a Unix socket), served by `tide host`:
//   GET    /api/v1/ping                          version, KVM host kind, pid
//   GET    /api/v1/pool                          the frame pool's figures
//   GET    /api/v1/guests                        every guest's info
//   POST   /api/v1/guests                        define: libvirt domain XML or tide JSON -> 201
//   GET    /api/v1/guests/NAME                   info
//   DELETE /api/v1/guests/NAME                   stop if running and forget -> 204
//   PUT    /api/v1/guests/NAME/boot|pause|resume|reboot            -> 200 info
//   PUT    /api/v1/guests/NAME/shutdown  {"mode":"force"|"reset"}  -> 200 info
//   GET    /api/v1/guests/NAME/console?from=N    {"text", "next"}: the console output
//   GET    /api/v1/audit                         the memory manager's audit (debug)
//   GET|POST /api/v1/memcg, GET|PUT|DELETE /api/v1/memcg/NAME   memory cgroups (memcg_api.hpp)
//   PUT    /api/v1/host/shutdown                 stop every guest and the daemon -> 204
// Errors: {"error": "..."} with 400 (bad request), 404 (no such guest or route), 405,
// 409 (wrong state, name taken), 413 (too large), 429 (too many guests), 500.
// Every request runs on the control loop, never on the event loop that serves devices;
// memcg writes, which may reclaim for a while, run on the work loop instead, so the
// control loop keeps answering meanwhile.
#pragma once

#include <functional>

#include "vmm/api/http.hpp"
#include "vmm/host/guest_manager.hpp"
#include "vmm/machine/event_loop.hpp"

namespace tide::vmm::api {

struct TideApiContext {
  GuestManager* guests = nullptr;
  EventLoop* control = nullptr;       // runs the requests
  EventLoop* work = nullptr;          // runs the ones that may block (memcg writes); null: control
  std::function<void()> shutdown;     // stops the daemon (called after the answer is sent)
};

[[nodiscard]] HttpHandler make_tide_api(TideApiContext context);

}  // namespace tide::vmm::api
