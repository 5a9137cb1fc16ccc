#include "vmm/cli/host_command.hpp"

#include <cstdio>
#include <cstdlib>

#include "guestmm/base/log.hpp"
#include "vmm/api/tide_api.hpp"
#include "vmm/cli/args.hpp"
#include "vmm/cli/daemon.hpp"
#include "vmm/cli/paths.hpp"
#include "vmm/cli/size.hpp"

namespace tide::vmm {

const char* const kHostHelp =
    "usage: tide host --api-socket PATH [options]\n"
    "\n"
    "Runs many guests over one frame pool and serves tide's API (HTTP/1.1 + JSON) on a\n"
    "Unix socket (mode 0600). Drive it with `tide ctl --api-socket PATH ...` or curl.\n"
    "Stops on SIGINT/SIGTERM or `tide ctl host-shutdown`; every guest is stopped first.\n"
    "\n"
    "options:\n"
    "  --api-socket PATH  the Unix socket to serve on (default: $TIDE_API_SOCKET)\n"
    "  --pool SIZE        the frame pool all guests' RAM comes from (default: the host's\n"
    "                     physical memory; the pool holds host memory only where used)\n"
    "  --hot-pool SIZE    freed memory kept resident for fast reuse (default 0)\n"
    "  --max-guests N     at most N guests defined at once (default 256)\n"
    "  --log-level L      debug, info, warn, error or off (default info)\n"
    "  --help             this text\n";

int host_command(const std::vector<std::string>& argv) {
  Args args("host", {"api-socket", "pool", "hot-pool", "max-guests", "log-level"}, {"help"});
  auto fail = [](const std::string& m) {
    log::error("%s", m.c_str());
    return 1;
  };
  if (auto st = args.parse(argv); !st) return fail(st.error().message());
  if (args.has("help")) {
    std::fputs(kHostHelp, stdout);
    return 0;
  }
  if (!args.positional().empty()) return fail("unexpected argument '" + args.positional()[0] + "' (see tide host --help)");
  if (auto l = args.get("log-level")) {
    log::Level level;
    if (!log::parse_level(*l, &level)) return fail("bad log level '" + *l + "'");
    log::set_level(level);
  }
  std::string socket = args.get("api-socket").value_or(std::getenv("TIDE_API_SOCKET") ? std::getenv("TIDE_API_SOCKET") : "");
  if (socket.empty()) return fail("tide host needs --api-socket PATH (or $TIDE_API_SOCKET)");
  DaemonSpec spec;
  spec.what = "tide host";
  if (auto p = args.get("pool")) {
    auto bytes = parse_size(*p);
    if (!bytes) return fail("--pool: " + bytes.error().message());
    spec.host.pool_bytes = *bytes;
  }
  if (auto h = args.get("hot-pool")) {
    auto bytes = parse_size(*h);
    if (!bytes) return fail("--hot-pool: " + bytes.error().message());
    spec.host.hot_frames = *bytes >> 12;
  }
  if (auto n = args.get("max-guests")) {
    char* end = nullptr;
    unsigned long v = std::strtoul(n->c_str(), &end, 10);
    if (n->empty() || *end || v < 1 || v > 4096) return fail("--max-guests: '" + *n + "' is not a number from 1 to 4096");
    spec.host.max_guests = v;
  }
  spec.host.default_kernel = default_tideguest();
  spec.listen = [socket](boost::asio::io_context& io, api::HttpHandler h) { return api::HttpServer::listen(io, socket, std::move(h)); };
  spec.api = [](GuestManager& g, EventLoop& control, EventLoop& work, std::function<void()> shutdown) {
    return api::make_tide_api(api::TideApiContext{&g, &control, &work, std::move(shutdown)});
  };
  return run_daemon(spec);
}

}  // namespace tide::vmm
