// Allocator micro-benchmark (Google Benchmark): an order-0 frame allocate+free pair through
// a guest's frame cache, beside glibc malloc(4096)/free measured in the same binary and run;
// prints the ratio at the end. Target: <= 25 ns per pair.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "guestmm/frame_cache.hpp"
#include "guestmm/frame_table.hpp"
#include "guestmm/pool_allocator.hpp"

namespace {

using namespace tide::gmm;

void BM_FrameCacheAllocFree(benchmark::State& state) {
  auto table = FrameTable::create(uint64_t{1} << 18);  // a 1 GiB pool
  if (!table) {
    state.SkipWithError("frame table");
    return;
  }
  PoolAllocator pool(*table, 0);
  FrameCache cache(pool, *table);
  for (auto _ : state) {
    auto m = cache.alloc();
    benchmark::DoNotOptimize(m);
    cache.free(*m);
  }
}
BENCHMARK(BM_FrameCacheAllocFree);

void BM_MallocFree4096(benchmark::State& state) {
  for (auto _ : state) {
    void* p = std::malloc(4096);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_MallocFree4096);

// Batched steady state: 32 allocations, then 32 frees (the cache refills and drains).
void BM_FrameCacheBurst32(benchmark::State& state) {
  auto table = FrameTable::create(uint64_t{1} << 18);
  PoolAllocator pool(*table, 0);
  FrameCache cache(pool, *table);
  Mfn held[32];
  for (auto _ : state) {
    for (auto& h : held) h = *cache.alloc();
    for (auto& h : held) cache.free(h);
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_FrameCacheBurst32);

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) ns_[r.benchmark_name()] = r.GetAdjustedRealTime();
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    double cache = ns_["BM_FrameCacheAllocFree"], malloc_ns = ns_["BM_MallocFree4096"];
    std::printf("frame cache alloc+free: %.1f ns per pair (target <= 25); malloc(4096)+free: %.1f ns; "
                "ratio cache/malloc %.2f\n",
                cache, malloc_ns, cache / malloc_ns);
  }

 private:
  std::map<std::string, double> ns_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
