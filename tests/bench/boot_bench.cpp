// Boot benchmark: boots tideguest N times under tide and under QEMU (-accel kvm, microvm
// with PCIe, same guest, memory and vCPUs), interleaved in the same run, and prints the
// median time from process start to "TIDEGUEST READY" for each, their ratio, and tide's
// VMM memory overhead (process RSS minus guest-resident memory, sampled at READY).
//
// usage: tide_bench_boot [--runs N] [--memory 512M] [--vcpus N] [--no-qemu]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "support/stats.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using tide::test::median;
using tide::test::Process;

struct Options {
  int runs = 20;
  std::string memory = "512M";
  std::string vcpus = "1";
  bool qemu = true;
};

std::string script_arg(const std::string& script) { return "tide.run=\"" + script + "\""; }

std::vector<std::string> tide_argv(const Options& o, const std::string& script) {
  return {TIDE_BINARY, "run", "--kernel", TIDEGUEST_ELF, "--memory", o.memory, "--vcpus", o.vcpus,
          "--log-level", "warn", "--cmdline", script_arg(script)};
}

std::vector<std::string> qemu_argv(const Options& o, const std::string& script) {
  const std::string& mem = o.memory;  // QEMU's -m takes the same M/G suffixes
  return {"/usr/bin/qemu-system-x86_64", "-accel", "kvm", "-M", "microvm,pcie=on", "-m", mem, "-smp", o.vcpus,
          "-nographic", "-no-reboot", "-serial", "stdio", "-monitor", "none", "-nodefaults",
          "-device", "isa-debug-exit,iobase=0x501,iosize=2", "-device", "virtio-rng-pci",
          "-kernel", TIDEGUEST_ELF, "-append", script_arg(script)};
}

// Milliseconds from spawn to READY, or -1.
double time_to_ready(const std::vector<std::string>& argv) {
  auto t0 = Clock::now();
  Process p(argv);
  if (!p.wait_for_output("TIDEGUEST READY", std::chrono::seconds(60))) {
    std::fprintf(stderr, "boot_bench: no READY from %s:\n%s\n", argv[0].c_str(), p.output().c_str());
    return -1;
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  p.wait(std::chrono::seconds(60));
  return ms;
}

// The "kB" fields of /proc/PID/status.
std::map<std::string, double> proc_status_kib(int pid) {
  std::map<std::string, double> out;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    char key[64];
    double value = 0;
    if (std::sscanf(line.c_str(), "%63[^:]: %lf kB", key, &value) == 2) out[key] = value;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) o.runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--memory" && i + 1 < argc) o.memory = argv[++i];
    else if (a == "--vcpus" && i + 1 < argc) o.vcpus = argv[++i];
    else if (a == "--no-qemu") o.qemu = false;
    else {
      std::fprintf(stderr, "usage: tide_bench_boot [--runs N] [--memory SIZE] [--vcpus N] [--no-qemu]\n");
      return 2;
    }
  }
  std::printf("boot benchmark: tideguest, %s RAM, %s vCPU, %d runs each, interleaved\n", o.memory.c_str(),
              o.vcpus.c_str(), o.runs);
  std::vector<double> tide_ms, qemu_ms;
  for (int i = 0; i < o.runs; ++i) {
    double t = time_to_ready(tide_argv(o, "exit 0"));
    if (t < 0) return 1;
    tide_ms.push_back(t);
    if (o.qemu) {
      double q = time_to_ready(qemu_argv(o, "exit 0"));
      if (q < 0) return 1;
      qemu_ms.push_back(q);
    }
  }
  double tm = median(tide_ms);
  std::printf("  tide  median %7.2f ms  (min %.2f, max %.2f)\n", tm, *std::min_element(tide_ms.begin(), tide_ms.end()),
              *std::max_element(tide_ms.begin(), tide_ms.end()));
  if (o.qemu) {
    double qm = median(qemu_ms);
    std::printf("  qemu  median %7.2f ms  (min %.2f, max %.2f)\n", qm,
                *std::min_element(qemu_ms.begin(), qemu_ms.end()), *std::max_element(qemu_ms.begin(), qemu_ms.end()));
    std::printf("  ratio tide/qemu %.3f  (target <= 0.5)\n", tm / qm);
  }
  std::printf("  tide boot under 50 ms: %s\n", tm < 50 ? "yes" : "no");

  // Memory: sample each VMM while its guest sleeps after READY.
  auto sample = [&](const std::vector<std::string>& av, const char* name) {
    Process p(av);
    if (!p.wait_for_output("TIDEGUEST READY", std::chrono::seconds(60))) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto st = proc_status_kib(p.pid());
    double rss = st["VmRSS"], shmem = st["RssShmem"], anon = st["RssAnon"], file = st["RssFile"];
    if (std::string(name) == "tide") {
      // Guest RAM is a shared memfd mapping: RssShmem is what the guest has touched.
      std::printf("  tide  RSS %.2f MiB = anon %.2f + file %.2f + guest-resident %.2f; VMM overhead %.2f MiB (target <= 4)\n",
                  rss / 1024.0, anon / 1024.0, file / 1024.0, shmem / 1024.0, (rss - shmem) / 1024.0);
    } else {
      std::printf("  qemu  RSS %.2f MiB (anon %.2f, file %.2f, shmem %.2f)\n", rss / 1024.0, anon / 1024.0,
                  file / 1024.0, shmem / 1024.0);
    }
    p.kill(15);
    p.wait(std::chrono::seconds(30));
  };
  sample(tide_argv(o, "sleep 2000; exit 0"), "tide");
  if (o.qemu) sample(qemu_argv(o, "sleep 2000; exit 0"), "qemu");
  return 0;
}
