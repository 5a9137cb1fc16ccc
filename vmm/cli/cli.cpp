#include "vmm/cli/cli.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "guestmm/base/log.hpp"
#include "vmm/cli/bench_command.hpp"
#include "vmm/cli/ch_command.hpp"
#include "vmm/cli/ctl_command.hpp"
#include "vmm/cli/host_command.hpp"
#include "vmm/cli/run_command.hpp"
#include "vmm/kvm/host_kind.hpp"

namespace tide::vmm {
namespace {

const char* const kHelp =
    "usage: tide <command> [options]\n"
    "\n"
    "tide is a lightweight VMM on Linux KVM with a hypervisor-style guest memory manager.\n"
    "\n"
    "commands:\n"
    "  run        boot one guest in the foreground (tide run --help)\n"
    "  host       run many guests over one pool, serving tide's API (tide host --help)\n"
    "  ctl        drive a tide host: define, boot, list, info, ... (tide ctl --help)\n"
    "  ch-compat  answer as Cloud Hypervisor, for libvirt's ch driver; also when tide is\n"
    "             started under the name cloud-hypervisor (tide ch-compat --help)\n"
    "  bench      experiments against another VMM: tide bench balloon (tide bench --help)\n"
    "\n"
    "options:\n"
    "  --help     this text\n"
    "  --version  tide's version and the kind of KVM host it runs on\n";

int version() {
  std::printf("tide %s\nKVM host: %s\n", TIDE_VERSION, probe_host_kind_text().c_str());
  return 0;
}

}  // namespace

int cli_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // libvirt's ch driver runs "cloud-hypervisor": a symlink with that name makes tide one.
  std::string self = argc > 0 ? argv[0] : "";
  if (auto slash = self.rfind('/'); slash != std::string::npos) self = self.substr(slash + 1);
  if (self == "cloud-hypervisor") return ch_command(args);
  if (args.empty()) {
    std::fputs(kHelp, stderr);
    return 2;
  }
  const std::string& cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    if (!rest.empty() && rest[0] == "run") {
      std::fputs(kRunHelp, stdout);
      return 0;
    }
    if (!rest.empty() && rest[0] == "host") {
      std::fputs(kHostHelp, stdout);
      return 0;
    }
    if (!rest.empty() && rest[0] == "ctl") {
      std::fputs(kCtlHelp, stdout);
      return 0;
    }
    if (!rest.empty() && rest[0] == "bench") {
      std::fputs(kBenchHelp, stdout);
      return 0;
    }
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") return version();
  if (cmd == "run") return run_command(rest);
  if (cmd == "host") return host_command(rest);
  if (cmd == "ctl") return ctl_command(rest);
  if (cmd == "ch-compat") return ch_command(rest);
  if (cmd == "bench") return bench_command(rest);
  log::error("unknown command '%s' (see tide --help)", cmd.c_str());
  return 2;
}

}  // namespace tide::vmm
