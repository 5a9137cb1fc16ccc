// Memory-control benchmark: a tideguest of 1 GiB touches 768 MiB once and then makes
// passes over a working set of 256 MiB inside it (`memws 768M 256M PASSES`), once under a
// 384 MiB memory.max (the other 512 MiB of what it touched must go to swap, and the working
// set must stay resident) and once without a limit, interleaved, same binary, same run.
// The figure is the steady-state throughput: the median over passes 2..N of each run
// (pass 1 brings the working set back from swap), limited / unlimited, target >= 0.8.
// Each run also reports its fill and first-pass times, and must end with the guest's
// `memws: verify` line saying every page held what was last written (bad=0).
//
// usage: tide_bench_memcg [--runs N] [--passes N] [--limit 384M]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/stats.hpp"

namespace {

using namespace tide;

double field(const std::string& text, const std::string& line_start, const std::string& key) {
  const size_t at = text.rfind(line_start);
  if (at == std::string::npos) return -1;
  const size_t end = text.find('\n', at);
  const std::string line = text.substr(at, end - at);
  const size_t k = line.find(" " + key + "=");
  if (k == std::string::npos) return -1;
  return std::atof(line.c_str() + k + key.size() + 2);
}

struct Run {
  double median_mbps = -1;
  double fill_s = -1, first_pass_s = -1;
  bool verified = false;
  std::string output;
};

Run run_guest(const std::string& limit, int passes) {
  std::vector<std::string> argv = {TIDE_BINARY, "run", "--kernel", TIDEGUEST_ELF, "--memory", "1G", "--balloon", "none",
                                   "--cmdline",
                                   "tide.run=\"memws 768M 256M " + std::to_string(passes) + "; exit 0\""};
  if (!limit.empty()) {
    argv.push_back("--memory-max");
    argv.push_back(limit);
  }
  auto r = test::run_command(argv, std::chrono::seconds(600));
  Run out;
  out.output = r.output;
  if (r.status != 0) return out;
  out.median_mbps = field(r.out, "memws: done", "median_mbps");
  out.fill_s = field(r.out, "memws: fill", "time_us") / 1e6;
  out.first_pass_s = field(r.out, "memws: pass 1/", "time_us") / 1e6;
  out.verified = r.out.find("memws: verify pages=196608 bad=0") != std::string::npos;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3, passes = 40;
  std::string limit = "384M";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--passes" && i + 1 < argc) passes = std::max(3, std::atoi(argv[++i]));
    else if (a == "--limit" && i + 1 < argc) limit = argv[++i];
    else {
      std::fprintf(stderr, "usage: tide_bench_memcg [--runs N] [--passes N] [--limit 384M]\n");
      return 2;
    }
  }
  std::printf("memcg benchmark: 1 GiB tideguest, memws 768M total / 256M working set, %d passes; memory.max %s vs no "
              "limit, %d runs interleaved\n",
              passes, limit.c_str(), runs);
  std::vector<double> limited, free_run, ratios;
  for (int i = 0; i < runs; ++i) {
    Run l = run_guest(limit, passes);
    Run u = run_guest("", passes);
    if (l.median_mbps <= 0 || u.median_mbps <= 0 || !l.verified || !u.verified) {
      std::fprintf(stderr, "memcg_bench: run %d failed\n--- limited:\n%s\n--- unlimited:\n%s\n", i + 1, l.output.c_str(),
                   u.output.c_str());
      return 1;
    }
    limited.push_back(l.median_mbps);
    free_run.push_back(u.median_mbps);
    ratios.push_back(l.median_mbps / u.median_mbps);
    std::printf("  run %d: limited %.0f MiB/s (fill %.2f s, first pass %.2f s), unlimited %.0f MiB/s (fill %.2f s), "
                "ratio %.3f\n",
                i + 1, l.median_mbps, l.fill_s, l.first_pass_s, u.median_mbps, u.fill_s, ratios.back());
  }
  std::printf("  median steady-state throughput: limited %.0f MiB/s, unlimited %.0f MiB/s, ratio %.3f (min %.3f, max %.3f; "
              "target >= 0.8)\n",
              test::median(limited), test::median(free_run), test::median(ratios), test::min_of(ratios),
              test::max_of(ratios));
  return 0;
}
