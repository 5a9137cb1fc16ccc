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

struct TideRates {
  double call = -1;    // pages/s of the release call (the guest's pages are gone for it)
  double scrubbed = -1; // pages/s until the host has the memory back (scrubber done)
  uint64_t punch_calls = 0;
};

// tide's release of the scattered half, after touching every page, with the scrubber on
// its own thread (as tide runs it) or inline.
TideRates tide_release(uint64_t memory, uint64_t seed, bool async, bool keeps_off = false) {
  TideRates out;
  gmm::host::LinuxHostMemory host;
  gmm::MemoryManagerOptions mo;
  mo.pool_bytes = memory;
  mo.async_scrub = async;
  auto mm = gmm::MemoryManager::create(host, std::move(mo));
  if (!mm) return out;
  auto guest = (*mm)->add_guest("bench", {gmm::RamRange{gmm::Gpa(0), memory}});
  if (!guest) return out;
  for (const auto& r : (*guest)->regions()) std::memset(r.host, 0x5a, r.size_bytes);  // faulted in by tide
  const uint64_t pages = memory >> gmm::kPageShift;
  std::vector<gmm::Gfn> gfns;
  for (uint64_t i : scattered_half(pages, seed)) gfns.push_back(gmm::Gfn(i));
  const uint64_t calls_before = (*mm)->stats().punch_calls;
  const uint64_t host_before = (*mm)->backing().resident_bytes();
  auto t0 = Clock::now();
  gmm::ReleaseOptions opts;
  opts.guest_keeps_off = keeps_off;
  auto r = (*guest)->release(gfns, gmm::PageState::ballooned, opts);
  double call = seconds_since(t0);
  if (!r || r->released != gfns.size()) return out;
  if (!(*mm)->scrubber().flush()) return out;
  double done = seconds_since(t0);
  out.punch_calls = (*mm)->stats().punch_calls - calls_before;
  if (auto st = (*mm)->check_invariants(); !st) {
    std::fprintf(stderr, "release_bench: audit failed: %s\n", st.error().message().c_str());
    return out;
  }
  if (host_before - (*mm)->backing().resident_bytes() != gfns.size() * gmm::kPageSize) {
    std::fprintf(stderr, "release_bench: the host did not get every page back\n");
    return out;
  }
  out.call = static_cast<double>(gfns.size()) / call;
  out.scrubbed = static_cast<double>(gfns.size()) / done;
  return out;
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
  std::vector<double> async_call, async_done, sync_call, keep_call, keep_done, falloc_rate, madv_rate;
  uint64_t calls = 0;
  for (int i = 0; i < runs; ++i) {
    const uint64_t seed = 100 + static_cast<uint64_t>(i);
    TideRates a = tide_release(memory, seed, true);
    TideRates s = tide_release(memory, seed, false);
    TideRates k = tide_release(memory, seed, true, true);
    if (k.call < 0) return 1;
    keep_call.push_back(k.call);
    keep_done.push_back(k.scrubbed);
    double f = per_page(memory, seed, false);
    double m = per_page(memory, seed, true);
    if (a.call < 0 || s.call < 0 || f < 0 || m < 0) return 1;
    async_call.push_back(a.call);
    async_done.push_back(a.scrubbed);
    sync_call.push_back(s.call);
    calls = a.punch_calls;
    falloc_rate.push_back(f);
    madv_rate.push_back(m);
  }
  const double ac = test::median(async_call), ad = test::median(async_done), sc = test::median(sync_call);
  const double f = test::median(falloc_rate), m = test::median(madv_rate);
  std::printf("  tide release call, scrubber thread (as tide runs) %10.0f pages/s\n", ac);
  std::printf("  ... until the host has every page back              %10.0f pages/s  (%llu punch system calls)\n", ad,
              static_cast<unsigned long long>(calls));
  std::printf("  tide release call, scrubbing inline                 %10.0f pages/s\n", sc);
  const double kc = test::median(keep_call), kd = test::median(keep_done);
  std::printf("  tide release call, guest keeps off (balloon MUST_TELL_HOST) %7.0f pages/s\n", kc);
  std::printf("  ... until the host has every page back              %10.0f pages/s\n", kd);
  std::printf("  fallocate(PUNCH_HOLE) per page                      %10.0f pages/s\n", f);
  std::printf("  madvise(MADV_REMOVE) per page                       %10.0f pages/s\n", m);
  std::printf("  ratio release call / fallocate per page %.2f; with the guest keeping off %.2f  (target >= 10)\n",
              ac / f, kc / f);
  std::printf("  ratio until memory returned / fallocate per page %.2f, inline / fallocate %.2f\n", ad / f, sc / f);
  return 0;
}
