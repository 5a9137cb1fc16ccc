// Fresh-memory fault-in benchmark: tideguest touches memory it never touched before
// (memtouch SIZE seq 2) under tide's allocator (2 MiB fault-around through userfaultfd) and
// under the kernel-faulted debug backend (a flat memfd view, 4 KiB shmem faults), runs
// interleaved in one process, and prints median MB/s of the first pass for both, their
// ratio, and the floor: the second pass, over memory that is already resident.
//
// usage: tide_bench_fault_in [--runs N] [--size 1G] [--memory 1536M]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/stats.hpp"

namespace {

using namespace tide::test;

struct Passes {
  double first = -1, second = -1;
};

double field(const std::string& out, const std::string& pass_marker) {
  size_t at = out.find(pass_marker);
  if (at == std::string::npos) return -1;
  size_t m = out.find("mbps=", at);
  return m == std::string::npos ? -1 : std::atof(out.c_str() + m + 5);
}

Passes run(const std::string& backend, const std::string& size, const std::string& memory) {
  std::string script = "tide.run=\"memtouch " + size + " seq 2; exit 0\"";
  auto r = run_command({TIDE_BINARY, "run", "--kernel", TIDEGUEST_ELF, "--memory", memory, "--memory-backend", backend,
                        "--log-level", "warn", "--cmdline", script},
                       std::chrono::seconds(300));
  Passes p;
  if (r.status != 0) {
    std::fprintf(stderr, "fault_in_bench: %s backend failed:\n%s\n", backend.c_str(), r.output.c_str());
    return p;
  }
  p.first = field(r.out, "pass 1/2");
  p.second = field(r.out, "pass 2/2");
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  std::string size = "1G", memory = "1536M";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--size" && i + 1 < argc) size = argv[++i];
    else if (a == "--memory" && i + 1 < argc) memory = argv[++i];
    else {
      std::fprintf(stderr, "usage: tide_bench_fault_in [--runs N] [--size SIZE] [--memory SIZE]\n");
      return 2;
    }
  }
  std::printf("fault-in benchmark: tideguest memtouch %s seq, %s guest, %d runs each, interleaved\n", size.c_str(),
              memory.c_str(), runs);
  std::vector<double> tide1, tide2, kern1, kern2;
  for (int i = 0; i < runs; ++i) {
    Passes t = run("tide", size, memory);
    Passes k = run("kernel", size, memory);
    if (t.first < 0 || k.first < 0) return 1;
    tide1.push_back(t.first);
    tide2.push_back(t.second);
    kern1.push_back(k.first);
    kern2.push_back(k.second);
  }
  double t = median(tide1), k = median(kern1);
  std::printf("  first touch  tide   median %8.1f MB/s (min %.1f, max %.1f)\n", t, min_of(tide1), max_of(tide1));
  std::printf("  first touch  kernel median %8.1f MB/s (min %.1f, max %.1f)\n", k, min_of(kern1), max_of(kern1));
  std::printf("  ratio tide/kernel %.2f  (target >= 1.3)\n", t / k);
  std::printf("  floor: second pass over resident memory: tide %.1f MB/s, kernel %.1f MB/s\n", median(tide2),
              median(kern2));
  return 0;
}
