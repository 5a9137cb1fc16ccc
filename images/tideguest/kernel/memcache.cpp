// The memcache workload (see memcache.hpp).
#include "kernel/memcache.hpp"

#include <cstddef>

#include "kernel/memfill.hpp"
#include "lib/format.hpp"
#include "mm/buddy.hpp"
#include "mm/page_cache.hpp"

namespace tg {
namespace {

constexpr uint64_t kWordsPerPage = mm::kPageSize / sizeof(uint64_t);
constexpr size_t kMaxBadReports = 8;
constexpr uint64_t kCacheSeed = 0x6d656d6361636865ull;  // "memcache"

// The seed of the cache's current generation: a fresh cache never matches what an
// earlier one left in the same frames.
uint64_t cache_seed() { return fill_word(mm::page_cache().generation(), kCacheSeed); }

void fill_page(uint64_t address, uint64_t seed) {
  auto* words = reinterpret_cast<uint64_t*>(address);
  for (uint64_t i = 0; i < kWordsPerPage; ++i) words[i] = fill_word(address + i * 8, seed);
}

}  // namespace

bool memcache_add(uint64_t size_bytes, const char** error) {
  const uint64_t pages = (size_bytes + mm::kPageSize - 1) / mm::kPageSize;
  if (pages == 0) {
    *error = "size must be at least 1 byte";
    return false;
  }
  mm::PageCache& cache = mm::page_cache();
  size_t first = 0;
  if (!cache.grow(pages, &first, error)) return false;
  // Nothing allocates from here on, so no block of the cache can go while it is written.
  const uint64_t seed = cache_seed();
  for (size_t b = first; b < cache.end(); ++b) {
    const uint64_t address = cache.block_address(b);
    for (uint64_t p = 0; p < (1ull << cache.block_order(b)); ++p) fill_page(address + p * mm::kPageSize, seed);
  }
  kprintf("memcache: size=");
  kprint_size(pages * mm::kPageSize);
  kprintf(" pages=%lu cached=%lu dropped=%lu\n", pages, cache.page_count(), cache.dropped_count());
  return true;
}

void memcache_info() {
  const mm::PageCache& cache = mm::page_cache();
  kprintf("memcache: cached=%lu size=", cache.page_count());
  kprint_size(cache.page_count() * mm::kPageSize);
  kprintf(" dropped=%lu free_pages=%lu\n", cache.dropped_count(), mm::page_allocator().free_page_count());
}

bool memcache_verify(const char** error) {
  struct BadPage {
    uint64_t address;
    uint64_t word;
    uint64_t expected;
    uint64_t read;
  };
  BadPage bad_pages[kMaxBadReports];
  const mm::PageCache& cache = mm::page_cache();
  const uint64_t seed = cache_seed();
  uint64_t pages = 0, intact = 0, bad = 0;
  for (size_t b = cache.begin(); b < cache.end(); ++b) {
    for (uint64_t p = 0; p < (1ull << cache.block_order(b)); ++p) {
      const uint64_t address = cache.block_address(b) + p * mm::kPageSize;
      const auto* words = reinterpret_cast<const uint64_t*>(address);
      ++pages;
      uint64_t w = 0;
      for (; w < kWordsPerPage; ++w) {
        if (words[w] != fill_word(address + w * 8, seed)) break;
      }
      if (w == kWordsPerPage) {
        ++intact;
        continue;
      }
      if (bad < kMaxBadReports) bad_pages[bad] = BadPage{address, w, fill_word(address + w * 8, seed), words[w]};
      ++bad;
    }
  }
  kprintf("memcache: verify pages=%lu intact=%lu bad=%lu\n", pages, intact, bad);
  for (uint64_t i = 0; i < bad && i < kMaxBadReports; ++i) {
    const BadPage& p = bad_pages[i];
    kprintf("memcache: bad page 0x%lx word %lu expected 0x%016lx read 0x%016lx\n", p.address, p.word, p.expected,
            p.read);
  }
  if (bad > 0) {
    *error = "bad pages (listed above)";
    return false;
  }
  return true;
}

void memcache_drop() {
  const uint64_t pages = mm::page_cache().drop_all();
  kprintf("memcache: drop pages=%lu cached=%lu\n", pages, mm::page_cache().page_count());
}

}  // namespace tg
