// Swap benchmark: a guest of 256 MiB under tide's allocator (real memfd pool, window,
// userfaultfd, a real swap file in $TIDE_SWAP_DIR or /var/tmp/tide-swap), every page written
// with a pattern; then every page swapped out by the reclaimer's own path
// (GuestMm::swap_out_cold: aging lists, PTE drop, O_DIRECT writes, frames punched), as MB/s;
// then every page read back through the window, each first access a fault served by
// swap-in (read from the file, UFFDIO_COPY), checked against the pattern, as MB/s. In the
// same run, the raw sequential write (with fdatasync) and read speed of the same directory's
// filesystem through an O_DIRECT file (host::measure_swap_throughput). Prints the ratios.
//
// usage: tide_bench_swap [--memory 256M] [--runs N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "guestmm/host/linux_host_memory.hpp"
#include "guestmm/host/swap_file.hpp"
#include "guestmm/memory_manager.hpp"
#include "support/stats.hpp"

namespace {

using namespace tide;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double mb_per_s(uint64_t bytes, double s) { return s > 0 ? static_cast<double>(bytes) / 1e6 / s : 0; }

struct SwapRates {
  double out = -1;  // MB/s
  double in = -1;
};

uint64_t pattern(uint64_t page, uint64_t word) { return (page << 20) ^ (word * 0x9e3779b97f4a7c15ull) ^ 0x5a5a; }

SwapRates tide_swap(uint64_t memory) {
  SwapRates out;
  gmm::host::LinuxHostMemory host;
  gmm::MemoryManagerOptions mo;
  mo.pool_bytes = memory;
  mo.reclaim.thread = false;  // the benchmark drives reclaim itself
  auto mm = gmm::MemoryManager::create(host, std::move(mo));
  if (!mm) return out;
  auto guest = (*mm)->add_guest("bench", {gmm::RamRange{gmm::Gpa(0), memory}});
  if (!guest) return out;
  gmm::GuestMm& g = **guest;
  auto* words = reinterpret_cast<uint64_t*>(g.window().base());
  const uint64_t pages = memory >> gmm::kPageShift, per_page = gmm::kPageSize / 8;
  for (uint64_t p = 0; p < pages; ++p) {
    for (uint64_t w = 0; w < per_page; w += 64) words[p * per_page + w] = pattern(p, w);
  }
  auto t0 = Clock::now();
  const uint64_t swapped = g.swap_out_cold(pages);
  out.out = mb_per_s(swapped * gmm::kPageSize, seconds_since(t0));
  if (swapped != pages || g.stats().resident_frames != 0) {
    std::fprintf(stderr, "swap_bench: %llu of %llu pages swapped out\n", static_cast<unsigned long long>(swapped),
                 static_cast<unsigned long long>(pages));
    out.out = -1;
    return out;
  }
  t0 = Clock::now();
  uint64_t bad = 0;
  for (uint64_t p = 0; p < pages; ++p) {
    for (uint64_t w = 0; w < per_page; w += 64) bad += words[p * per_page + w] != pattern(p, w);
  }
  out.in = mb_per_s(memory, seconds_since(t0));
  if (std::getenv("TIDE_BENCH_VERBOSE")) {
    std::printf("    window remaps %llu, swap-ins %llu\n", static_cast<unsigned long long>(g.stats().window_remaps),
                static_cast<unsigned long long>(g.stats().swap_in));
  }
  if (bad != 0 || g.stats().swap_in != pages) {
    std::fprintf(stderr, "swap_bench: %llu words wrong, %llu pages swapped in\n", static_cast<unsigned long long>(bad),
                 static_cast<unsigned long long>(g.stats().swap_in));
    out.in = -1;
  }
  if (auto st = (*mm)->check_invariants(); !st) {
    std::fprintf(stderr, "swap_bench: audit failed: %s\n", st.error().message().c_str());
    out = {};
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t memory = 256ull << 20;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--memory" && i + 1 < argc) memory = std::max<uint64_t>(4, std::strtoull(argv[++i], nullptr, 10)) << 20;
    else if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: tide_bench_swap [--memory MiB] [--runs N]\n");
      return 2;
    }
  }
  memory = gmm::align_up(memory, 4ull << 20);
  const std::string dir = gmm::host::default_swap_directory();
  std::printf("swap benchmark: a %llu MiB guest swapped out and back, swap files in %s, %d runs, interleaved with the "
              "raw filesystem speed\n",
              static_cast<unsigned long long>(memory >> 20), dir.c_str(), runs);
  std::vector<double> out, in, raw_w, raw_r;
  for (int i = 0; i < runs; ++i) {
    SwapRates t = tide_swap(memory);
    auto raw = gmm::host::measure_swap_throughput("", memory);
    if (t.out < 0 || t.in < 0 || !raw) {
      std::fprintf(stderr, "swap_bench: run %d failed%s%s\n", i + 1, raw ? "" : ": ",
                   raw ? "" : raw.error().message().c_str());
      return 1;
    }
    out.push_back(t.out);
    in.push_back(t.in);
    raw_w.push_back(mb_per_s(raw->bytes, raw->write_seconds));
    raw_r.push_back(mb_per_s(raw->bytes, raw->read_seconds));
    std::printf("  run %d: swap-out %.0f MB/s (raw write %.0f), swap-in %.0f MB/s (raw read %.0f)\n", i + 1, t.out,
                raw_w.back(), t.in, raw_r.back());
  }
  const double o = test::median(out), n = test::median(in), w = test::median(raw_w), r = test::median(raw_r);
  std::printf("  median swap-out %8.0f MB/s   raw sequential write %8.0f MB/s   ratio %.2f\n", o, w, o / w);
  std::printf("  median swap-in  %8.0f MB/s   raw sequential read  %8.0f MB/s   ratio %.2f\n", n, r, n / r);
  return 0;
}
