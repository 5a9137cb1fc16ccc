#include "vmm/cli/run_command.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <atomic>
#include <filesystem>
#include <optional>

#include "guestmm/base/log.hpp"
#include "guestmm/host/linux_host_memory.hpp"
#include "vmm/cli/args.hpp"
#include "vmm/cli/balloon_flags.hpp"
#include "vmm/cli/memcg_flags.hpp"
#include "vmm/host/balloon_setup.hpp"
#include "vmm/host/memcg_setup.hpp"
#include "vmm/config/domain_xml.hpp"
#include "vmm/cli/memory_report.hpp"
#include "vmm/cli/paths.hpp"
#include "vmm/cli/periodic_reports.hpp"
#include "vmm/cli/size.hpp"
#include "vmm/cli/terminal.hpp"
#include "vmm/machine/layout.hpp"
#include "vmm/machine/machine.hpp"

namespace tide::vmm {

const char* const kRunHelp =
    "usage: tide run [options]\n"
    "\n"
    "Boots one guest in the foreground, its serial console on this terminal.\n"
    "Without --kernel it boots tideguest, tide's own test guest.\n"
    "\n"
    "options:\n"
    "  --config FILE     define the guest with libvirt domain XML (name, memory, vcpu,\n"
    "                    os/kernel, os/initrd, os/cmdline, devices/rng, memtune...; see\n"
    "                    docs/domain-xml.md); excludes the guest, balloon and memory\n"
    "                    control flags below\n"
    "  --kernel FILE     ELF kernel with a PVH entry note (tideguest, a Linux vmlinux)\n"
    "  --cmdline STR     kernel command line (tideguest: tide.run=\"cmd; cmd; ...\")\n"
    "  --initrd FILE     initial ramdisk, handed to the kernel as PVH module 0\n"
    "  --memory SIZE     guest RAM, e.g. 512M or 2G; a bare number is MiB (default 512M)\n"
    "  --vcpus N         number of vCPUs, 1..254 (default 1)\n"
    "  --pool SIZE       tide's frame pool, the host memory all guest RAM comes from\n"
    "                    (default: the guest's --memory)\n"
    "  --hot-pool SIZE   freed memory kept resident for fast reuse, zeroed on reuse\n"
    "                    (default 0: freed frames go back to the host at once)\n"
    "  --memory-backend B  tide (default: frames from tide's allocator, faulted in 2 MiB\n"
    "                    extents through userfaultfd) or kernel (debug baseline: a flat\n"
    "                    memfd view that the kernel faults 4 KiB at a time)\n"
    "  --stats-interval S  print the guest's memory figures and the pool's every S seconds\n"
    "                    (and at exit)\n"
    "  --audit-interval S  check every memory-manager invariant every S seconds (debug;\n"
    "                    also once at exit; a failure is logged and makes the exit status 1)\n"
    "  --test-hooks      the test-hook port (0x510): the guest may ask tide to release\n"
    "                    ranges of its pages (tests of the memory manager)\n"
    "  --no-rng          do not give the guest a virtio-rng device\n"
    "  --balloon LIST    virtio-balloon features: mth, stats, oom (deflate on OOM), report\n"
    "                    (free page reporting), default (= mth,stats,report); none: no\n"
    "                    balloon device (default: default)\n"
    "  --current-memory SIZE  the guest's memory at boot: the balloon starts at\n"
    "                    memory - SIZE (default: the whole --memory, empty balloon)\n"
    "  --balloon-stats-period S  ask the driver for fresh statistics every S seconds\n"
    "                    (default 1; 0: never)\n"
    "  --balloon-auto MARGIN  auto mode: every stats period the balloon policy sets the\n"
    "                    target so the guest keeps about MARGIN available (off by default)\n"
    "  --memory-max SIZE|max   the guest's memory cgroup (docs/memcg.md): hard limit on\n"
    "                    resident memory; above it tide reclaims (balloon, then swap), then\n"
    "                    applies the OOM policy\n"
    "  --memory-high SIZE|max  reclaim threshold: faults over it wait for reclaim\n"
    "  --memory-low SIZE|max, --memory-min SIZE|max  protection from pool-wide reclaim\n"
    "  --swap-max SIZE|max     limit on the guest's pages in swap\n"
    "  --oom-policy P    stall (default: faulting vCPUs wait for memory) or stop (the\n"
    "                    guest is stopped and the run ends with status 1)\n"
    "  --swappiness N    0..200: how readily cold pages go to swap (default 60)\n"
    "  --swap-size SIZE  the guest's swap file's size (default: its --memory)\n"
    "  --swap-dir DIR    where the swap file goes (default $TIDE_SWAP_DIR, else\n"
    "                    /var/tmp/tide-swap)\n"
    "  --vcpu-stats      at exit, print each vCPU's KVM statistics (exits, emulated\n"
    "                    instructions, page faults) and tide's exit counters\n"
    "  --log-level L     debug, info, warn, error or off (default info; env TIDE_LOG)\n"
    "  --help            this text\n"
    "\n"
    "exit status: the value the guest wrote to the debug-exit port (0x501); 0 after a\n"
    "guest reset or power-off; 128+N when stopped by signal N; 1 with a one-line reason\n"
    "on any error or when the OOM policy stop ended the guest. On a terminal, Ctrl-A x\n"
    "ends the guest.\n";

namespace {

int fail(const std::string& message) {
  log::error("%s", message.c_str());
  return 1;
}


void print_vcpu_stats(Vm& vm) {
  static const char* const kKeys[] = {"exits", "insn_emulation", "io_exits", "mmio_exits", "pf_fixed",
                                      "pf_taken", "irq_injections", "halt_exits"};
  for (uint32_t i = 0; i < vm.config().nr_vcpus; ++i) {
    std::string line = log::strf("vcpu%u:", i);
    if (auto stats = vm.vcpu(i).stats()) {
      for (const char* k : kKeys) {
        if (auto it = stats->find(k); it != stats->end()) line += log::strf(" %s=%llu", k, static_cast<unsigned long long>(it->second));
      }
    }
    const VcpuCounters& c = vm.vcpu_counters(i);
    line += log::strf(" tide_pio=%llu tide_mmio=%llu waits=%llu", static_cast<unsigned long long>(c.pio_exits.load()),
                      static_cast<unsigned long long>(c.mmio_exits.load()), static_cast<unsigned long long>(c.waits.load()));
    std::fprintf(stderr, "tide: %s\n", line.c_str());  // asked for: printed whatever the log level
  }
}

}  // namespace

int run_command(const std::vector<std::string>& argv) {
  Args args("run",
            {"kernel", "cmdline", "initrd", "memory", "vcpus", "log-level", "pool", "hot-pool", "memory-backend",
             "stats-interval", "audit-interval", "config", "balloon", "current-memory", "balloon-stats-period", "balloon-auto",
             "memory-max", "memory-high", "memory-low", "memory-min", "swap-max", "oom-policy", "swappiness", "swap-size",
             "swap-dir"},
            {"help", "no-rng", "vcpu-stats", "test-hooks"});
  if (auto st = args.parse(argv); !st) return fail(st.error().message());
  if (args.has("help")) {
    std::fputs(kRunHelp, stdout);
    return 0;
  }
  if (!args.positional().empty()) return fail("unexpected argument '" + args.positional()[0] + "' (see tide run --help)");
  if (auto l = args.get("log-level")) {
    log::Level level;
    if (!log::parse_level(*l, &level)) return fail("bad log level '" + *l + "' (debug, info, warn, error, off)");
    log::set_level(level);
  }

  MachineConfig config;
  config.vm.memory_bytes = layout::kDefaultMemory;
  if (auto m = args.get("memory")) {
    auto bytes = parse_size(*m);
    if (!bytes) return fail("--memory: " + bytes.error().message());
    config.vm.memory_bytes = *bytes;
  }
  if (auto v = args.get("vcpus")) {
    char* end = nullptr;
    unsigned long n = std::strtoul(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || n < 1 || n > 254) return fail("--vcpus: '" + *v + "' is not a number from 1 to 254");
    config.vm.nr_vcpus = static_cast<uint32_t>(n);
  }
  std::optional<GuestConfig> domain;
  if (auto c = args.get("config")) {
    for (const char* flag : {"kernel", "cmdline", "initrd", "memory", "vcpus", "no-rng"}) {
      if (args.has(flag)) return fail(std::string("--") + flag + " and --config: the guest is defined by " + *c);
    }
    auto parsed = load_domain_xml(*c);
    if (!parsed) return fail(parsed.error().message());
    for (const auto& w : parsed->warnings) log::warn("%s", w.c_str());
    domain = std::move(*parsed);
    config.vm.memory_bytes = domain->memory_bytes;
    config.vm.nr_vcpus = domain->current_vcpus.value_or(domain->vcpus);
  }
  if (domain && !domain->kernel.empty()) {
    config.boot.kernel_path = domain->kernel;
    config.vm.name = domain->name;
  } else if (auto k = args.get("kernel")) {
    config.boot.kernel_path = *k;
    config.vm.name = std::filesystem::path(*k).stem().string();
  } else {
    config.boot.kernel_path = default_tideguest();
    config.vm.name = domain ? domain->name : "tideguest";
    if (config.boot.kernel_path.empty()) {
      return fail("no --kernel given and tideguest was not found next to tide (build it, or set TIDE_TIDEGUEST)");
    }
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(config.boot.kernel_path, ec)) {
    return fail("kernel " + config.boot.kernel_path + ": no such file");
  }
  config.boot.cmdline = domain ? domain->cmdline : args.get("cmdline").value_or("");
  if (auto i = domain ? std::optional<std::string>(domain->initrd) : args.get("initrd"); i && !i->empty()) {
    if (!std::filesystem::is_regular_file(*i, ec)) return fail("initrd " + *i + ": no such file");
    config.boot.initrd_path = *i;
  }
  // A domain without <rng> has none (libvirt's meaning); the command line's default is one.
  config.rng = domain ? domain->rng : !args.has("no-rng");
  config.test_hooks = args.has("test-hooks");
  uint64_t pool_bytes = config.vm.memory_bytes, hot_bytes = 0;
  if (auto p = args.get("pool")) {
    auto bytes = parse_size(*p);
    if (!bytes) return fail("--pool: " + bytes.error().message());
    pool_bytes = *bytes;
  }
  if (auto h = args.get("hot-pool")) {
    auto bytes = parse_size(*h);
    if (!bytes) return fail("--hot-pool: " + bytes.error().message());
    hot_bytes = *bytes;
  }
  const std::string backend = args.get("memory-backend").value_or("tide");
  if (backend != "tide" && backend != "kernel") return fail("--memory-backend: '" + backend + "' is not tide or kernel");
  if (backend == "kernel" && config.test_hooks) return fail("--test-hooks needs --memory-backend tide");
  if (domain) {
    if (balloon_flags_given(args)) return fail("--config: give the balloon in the domain XML (<memballoon>, <currentMemory>)");
    auto b = machine_balloon(*domain);
    if (!b) return fail(b.error().message());
    config.balloon = *b;
  } else {
    auto b = balloon_from_flags(args, config.vm.memory_bytes);
    if (!b) return fail(b.error().message());
    config.balloon = *b;
  }
  if (domain) {
    if (memcg_flags_given(args)) {
      return fail("--config: give memory control in the domain XML (<memtune>, <resource><partition>, "
                  "<metadata><tide:memory>)");
    }
    auto m = machine_memcg(*domain);
    if (!m) return fail(m.error().message());
    config.memcg = *m;
  } else {
    auto m = memcg_from_flags(args);
    if (!m) return fail(m.error().message());
    config.memcg = *m;
  }
  if (backend == "kernel" && config.memcg != MachineMemcg{}) {
    return fail("memory control (memory cgroup limits, OOM policy, swap) needs --memory-backend tide");
  }
  if (backend == "kernel" && config.balloon) {
    // The debug baseline has no P2M to balloon: a balloon asked for is an error, the
    // default one is left out.
    if (balloon_flags_given(args) || (domain && (domain->current_memory_bytes.value_or(domain->memory_bytes) !=
                                                 domain->memory_bytes))) {
      return fail("the balloon needs --memory-backend tide");
    }
    config.balloon.reset();
  }
  double stats_interval = 0, audit_interval = 0;
  for (auto [name, out] : {std::pair{"stats-interval", &stats_interval}, std::pair{"audit-interval", &audit_interval}}) {
    if (auto v = args.get(name)) {
      char* end = nullptr;
      *out = std::strtod(v->c_str(), &end);
      if (v->empty() || *end != '\0' || !(*out > 0) || *out > 86400) {
        return fail(std::string("--") + name + ": '" + *v + "' is not a number of seconds");
      }
    }
  }
  config.console = [](std::span<const uint8_t> bytes) { Terminal::write_output(bytes); };

  auto kvm = KvmSystem::open();
  if (!kvm) return fail(kvm.error().message());
  if (auto st = kvm->check_required(); !st) return fail(st.error().message());
  // The guest's memory: tide's allocator (with its fault server), or the flat debug view.
  gmm::host::LinuxHostMemory host;
  std::atomic<Machine*> running{nullptr};
  std::unique_ptr<gmm::MemoryManager> manager;
  std::optional<gmm::Pool> flat_pool;
  MachineMemory memory;
  if (backend == "tide") {
    gmm::MemoryManagerOptions mo;
    mo.pool_bytes = pool_bytes;
    mo.hot_frames = hot_bytes >> gmm::kPageShift;
    mo.async_scrub = true;
    mo.on_fault_error = [&running](gmm::GuestMm& g, const Error& e) {
      // Runs on the fault server: stop the guest (its faulting thread cannot go on).
      if (Machine* m = running.load()) m->stop(VmExit{VmExit::Kind::error, 1, e.message()});
      else log::error("%s: %s", g.name().c_str(), e.message().c_str());
    };
    auto mm = gmm::MemoryManager::create(host, std::move(mo));
    if (!mm) return fail(mm.error().message());
    manager = std::move(*mm);
    memory.manager = manager.get();
  } else {
    auto pool = gmm::Pool::create(config.vm.memory_bytes);
    if (!pool) return fail(pool.error().message());
    flat_pool = std::move(*pool);
    memory.flat_pool = &*flat_pool;
  }

  EventLoop events;
  events.start();
  auto machine = Machine::create(*kvm, memory, config, events);
  if (!machine) return fail(machine.error().message());
  Machine& m = **machine;
  running.store(&m);
  PeriodicReports reports(events, manager.get(), m.guest_memory(), stats_interval, audit_interval);

  boost::asio::signal_set signals(events.context(), SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&m](const boost::system::error_code& err, int sig) {
    if (err) return;
    m.stop(VmExit{VmExit::Kind::stopped, 128 + sig, log::strf("stopped by signal %d", sig)});
  });
  if (auto st = m.start(); !st) {
    signals.cancel();
    return fail(st.error().message());
  }
  log::info("%s: %s RAM, %u vCPU%s, KVM host: %s", config.vm.name.c_str(),
            format_size(config.vm.memory_bytes).c_str(), config.vm.nr_vcpus, config.vm.nr_vcpus == 1 ? "" : "s",
            host_kind_name(m.vm().host_kind()));

  Terminal terminal;
  terminal.start([&m](std::span<const uint8_t> in) { m.console_input(in); },
                 [&m] { m.stop(VmExit{VmExit::Kind::stopped, 0, "ended from the console (Ctrl-A x)"}); });

  VmExit exit = m.wait();
  terminal.stop();
  if (args.has("vcpu-stats")) print_vcpu_stats(m.vm());
  if (m.balloon() && (stats_interval > 0 || m.balloon()->counters().inflated_pages > 0)) {
    std::fprintf(stderr, "tide: balloon: %s\n", balloon_line(m.balloon()->status()).c_str());
  }
  const bool audit_failed = reports.finish();
  running.store(nullptr);
  boost::asio::post(events.context(), [&signals] { signals.cancel(); });
  machine->reset();
  events.stop();
  if (manager && (stats_interval > 0 || audit_interval > 0)) {
    // The guest's frames are back in the pool: show it whole again, and audit it so.
    std::fprintf(stderr, "tide: stats: after exit: %s\n", pool_line(manager->stats()).c_str());
    if (audit_interval > 0) {
      if (auto st = manager->check_invariants(); !st) {
        log::error("audit after exit: %s", st.error().message().c_str());
        return 1;
      }
    }
  }
  if (audit_failed) return fail("the memory manager's audit failed (see above)");

  switch (exit.kind) {
    case VmExit::Kind::debug_exit:
      log::info("%s: exited with status %d", config.vm.name.c_str(), exit.status);
      return exit.status;
    case VmExit::Kind::error:
      // Messages from the memory manager already name the guest.
      return fail(exit.message.rfind(config.vm.name + ": ", 0) == 0 ? exit.message : config.vm.name + ": " + exit.message);
    case VmExit::Kind::stopped:
      // Status 1 without a signal: tide itself stopped the guest (the OOM policy `stop`).
      if (exit.status > 0 && exit.status < 128) return fail(config.vm.name + ": " + exit.message);
      log::info("%s: %s (%s)", config.vm.name.c_str(), vm_exit_kind_name(exit.kind), exit.message.c_str());
      return exit.status;
    default:
      log::info("%s: %s (%s)", config.vm.name.c_str(), vm_exit_kind_name(exit.kind), exit.message.c_str());
      return 0;
  }
}

}  // namespace tide::vmm
