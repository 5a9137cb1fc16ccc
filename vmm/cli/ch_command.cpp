#include "vmm/cli/ch_command.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "guestmm/base/log.hpp"
#include "vmm/api/ch_api.hpp"
#include "vmm/api/ch_config.hpp"
#include "vmm/cli/daemon.hpp"
#include "vmm/cli/paths.hpp"

namespace tide::vmm {
namespace {

const char* const kHelp =
    "usage: cloud-hypervisor --api-socket fd=N|path=P [-v]... [--log-file F]\n"
    "       cloud-hypervisor --version\n"
    "\n"
    "tide answering as Cloud Hypervisor v%s, so that libvirt's ch driver can manage a\n"
    "tide guest (see the README). One VM per process, defined through PUT /api/v1/vm.create.\n";

}  // namespace

int ch_command(const std::vector<std::string>& argv) {
  std::string socket_spec;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--version" || a == "-V") {
      std::printf("cloud-hypervisor v%s\n", api::kChVersion);
      return 0;
    }
    if (a == "--help" || a == "-h") {
      std::printf(kHelp, api::kChVersion);
      return 0;
    }
    if (a == "-v" || a == "-vv" || a == "-vvv") continue;  // verbosity: tide logs at info
    if (a == "--api-socket" && i + 1 < argv.size()) {
      socket_spec = argv[++i];
    } else if (a.rfind("--api-socket=", 0) == 0) {
      socket_spec = a.substr(13);
    } else if (a == "--log-file" && i + 1 < argv.size()) {
      // Cloud Hypervisor's log goes to a file; so does tide's stderr here.
      if (!std::freopen(argv[++i].c_str(), "a", stderr)) {
        std::fprintf(stderr, "cloud-hypervisor: cannot open log file %s\n", argv[i].c_str());
        return 1;
      }
    } else {
      log::error("cloud-hypervisor (tide): unsupported argument '%s'", a.c_str());
      return 1;
    }
  }
  if (socket_spec.empty()) {
    log::error("cloud-hypervisor (tide): --api-socket fd=N or path=PATH is required");
    return 1;
  }
  DaemonSpec spec;
  spec.what = "tide ch-compat";
  spec.host.default_kernel = default_tideguest();
  spec.host.max_guests = 1;
  if (socket_spec.rfind("fd=", 0) == 0) {
    char* end = nullptr;
    long fd = std::strtol(socket_spec.c_str() + 3, &end, 10);
    if (*end || fd < 0) {
      log::error("cloud-hypervisor (tide): bad --api-socket '%s'", socket_spec.c_str());
      return 1;
    }
    spec.listen = [fd](boost::asio::io_context& io, api::HttpHandler h) {
      return api::HttpServer::adopt(io, static_cast<int>(fd), std::move(h));
    };
  } else {
    std::string path = socket_spec.rfind("path=", 0) == 0 ? socket_spec.substr(5) : socket_spec;
    spec.listen = [path](boost::asio::io_context& io, api::HttpHandler h) { return api::HttpServer::listen(io, path, std::move(h)); };
  }
  spec.api = [](GuestManager& g, EventLoop& control, EventLoop&, std::function<void()> shutdown) {
    return api::make_ch_api(api::ChApiContext{&g, &control, std::move(shutdown)});
  };
  return run_daemon(spec);
}

}  // namespace tide::vmm
