// Release benchmark: a guest of 512 MiB under tide's allocator (real memfd pool, windows,
// userfaultfd), every page touched; then 256 MiB of scattered 4 KiB GFNs (a seeded random
// half of its pages) released in one call, as pages per second. In the same run, the same
// number of pages of an equally populated memfd returned one system call per page
// (fallocate(PUNCH_HOLE), then madvise(MADV_REMOVE)). Prints the ratios.
//
// usage: tide_bench_release [--memory 512M] [--runs N]
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "guestmm/host/linux_host_memory.hpp"
#include "guestmm/memory_manager.hpp"
#include "support/stats.hpp"

namespace {

using namespace tide;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<uint64_t> scattered_half(uint64_t pages, uint64_t seed) {
  std::vector<uint64_t> idx(pages);
  for (uint64_t i = 0; i < pages; ++i) idx[i] = i;
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  idx.resize(pages / 2);
  return idx;  // random order, as a balloon driver would hand them over
}

// Pages/s of tide's release of the scattered half, after touching every page.
double tide_release(uint64_t memory, uint64_t seed, uint64_t* punch_calls) {
  gmm::host::LinuxHostMemory host;
  gmm::MemoryManagerOptions mo;
  mo.pool_bytes = memory;
  auto mm = gmm::MemoryManager::create(host, std::move(mo));
  if (!mm) return -1;
  auto guest = (*mm)->add_guest("bench", {gmm::RamRange{gmm::Gpa(0), memory}});
  if (!guest) return -1;
  for (const auto& r : (*guest)->regions()) std::memset(r.host, 0x5a, r.size_bytes);  // faulted in by tide
  const uint64_t pages = memory >> gmm::kPageShift;
  std::vector<gmm::Gfn> gfns;
  for (uint64_t i : scattered_half(pages, seed)) gfns.push_back(gmm::Gfn(i));
  const uint64_t calls_before = (*mm)->stats().punch_calls;
  auto t0 = Clock::now();
  auto r = (*guest)->release(gfns, gmm::PageState::ballooned);
  double s = seconds_since(t0);
  if (!r || r->released != gfns.size()) return -1;
  *punch_calls = (*mm)->stats().punch_calls - calls_before;
  if (auto st = (*mm)->check_invariants(); !st) {
    std::fprintf(stderr, "release_bench: audit failed: %s\n", st.error().message().c_str());
    return -1;
  }
  return static_cast<double>(gfns.size()) / s;
}

// Pages/s of one system call per page over the same selection of a populated memfd.
double per_page(uint64_t memory, uint64_t seed, bool use_madvise) {
  int fd = memfd_create("bench", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(memory)) != 0) return -1;
  void* p = mmap(nullptr, memory, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return -1;
  auto* base = static_cast<char*>(p);
  std::memset(base, 0x5a, memory);
  auto pick = scattered_half(memory >> 12, seed);
  auto t0 = Clock::now();
  for (uint64_t i : pick) {
    if (use_madvise) madvise(base + (i << 12), 4096, MADV_REMOVE);
    else fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(i << 12), 4096);
  }
  double s = seconds_since(t0);
  munmap(p, memory);
  close(fd);
  return static_cast<double>(pick.size()) / s;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t memory = 512ull << 20;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--memory" && i + 1 < argc) memory = std::strtoull(argv[++i], nullptr, 10) << 20;
    else if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: tide_bench_release [--memory MiB] [--runs N]\n");
      return 2;
    }
  }
  std::printf("release benchmark: %llu MiB of scattered 4 KiB pages out of a %llu MiB guest, %d runs, interleaved\n",
              static_cast<unsigned long long>(memory >> 21), static_cast<unsigned long long>(memory >> 20), runs);
  std::vector<double> tide_rate, falloc_rate, madv_rate;
  uint64_t calls = 0;
  for (int i = 0; i < runs; ++i) {
    double t = tide_release(memory, 100 + static_cast<uint64_t>(i), &calls);
    double f = per_page(memory, 100 + static_cast<uint64_t>(i), false);
    double m = per_page(memory, 100 + static_cast<uint64_t>(i), true);
    if (t < 0 || f < 0 || m < 0) return 1;
    tide_rate.push_back(t);
    falloc_rate.push_back(f);
    madv_rate.push_back(m);
  }
  double t = test::median(tide_rate), f = test::median(falloc_rate), m = test::median(madv_rate);
  std::printf("  tide release (one call)     %10.0f pages/s  (%llu punch system calls)\n", t,
              static_cast<unsigned long long>(calls));
  std::printf("  fallocate per page          %10.0f pages/s\n", f);
  std::printf("  madvise(MADV_REMOVE) per page %8.0f pages/s\n", m);
  std::printf("  ratio tide/fallocate %.2f, tide/madvise %.2f  (target >= 10)\n", t / f, t / m);
  return 0;
}
