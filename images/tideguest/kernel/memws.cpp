// The memws workload (see memws.hpp).
#include "kernel/memws.hpp"

#include <cstddef>

#include "dev/clock.hpp"
#include "kernel/memfill.hpp"
#include "lib/format.hpp"
#include "lib/sort.hpp"
#include "mm/buddy.hpp"
#include "mm/page_set.hpp"
#include "mm/word_array.hpp"

namespace tg {
namespace {

constexpr uint64_t kWordsPerPage = mm::kPageSize / sizeof(uint64_t);
constexpr size_t kMaxBadReports = 8;
constexpr uint64_t kMemwsSeed = 0x6d656d7773ull;  // "memws"

uint64_t g_kept_bytes = 0;

// The key of pass `pass` (0: the initial fill); word at paddr = paddr ^ key.
uint64_t pass_key(unsigned pass) { return fill_word(pass, kMemwsSeed); }

void fill_words(uint64_t address, uint64_t pages, uint64_t key) {
  auto* words = reinterpret_cast<uint64_t*>(address);
  for (uint64_t i = 0; i < pages * kWordsPerPage; ++i) words[i] = (address + i * 8) ^ key;
}

// One read and one write of every word: the old key becomes the new one.
inline void xor_words(uint64_t address, uint64_t count, uint64_t delta) {
  auto* words = reinterpret_cast<uint64_t*>(address);
  for (uint64_t i = 0; i < count; i += 8) {
    words[i + 0] ^= delta;
    words[i + 1] ^= delta;
    words[i + 2] ^= delta;
    words[i + 3] ^= delta;
    words[i + 4] ^= delta;
    words[i + 5] ^= delta;
    words[i + 6] ^= delta;
    words[i + 7] ^= delta;
  }
}

// MiB/s in tenths: bytes / 2^20 / (ns / 1e9) * 10 = KiB * 1e10 / 1024 / ns.
uint64_t mbps_tenths(uint64_t bytes, uint64_t elapsed_ns) {
  return elapsed_ns == 0 ? 0 : (bytes >> 10) * 9765625ull / elapsed_ns;
}

void print_tenths(const char* name, uint64_t tenths) { kprintf(" %s=%lu.%lu", name, tenths / 10, tenths % 10); }

// The median of the passes after the first (the first may pay the host's faults); of the
// first alone when there is no other. Sorts `tenths`.
uint64_t median_tenths(mm::WordArray& tenths) {
  uint64_t* values = tenths.data();
  size_t n = tenths.size();
  if (n > 1) {
    ++values;
    --n;
  }
  lib::sort_u64(values, n);
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Checks every page: the first ws_pages hold the last pass's key, the rest the fill's.
bool verify(const mm::PageSet& set, uint64_t ws_pages, uint64_t ws_key, uint64_t cold_key) {
  struct BadPage {
    uint64_t address;
    uint64_t word;
    uint64_t expected;
    uint64_t read;
  };
  BadPage bad_pages[kMaxBadReports];
  uint64_t bad = 0;
  for (size_t b = 0; b < set.block_count(); ++b) {
    for (uint64_t i = 0; i < set.block_page_count(b); ++i) {
      const uint64_t address = set.block_address(b) + i * mm::kPageSize;
      const uint64_t key = set.block_first_page(b) + i < ws_pages ? ws_key : cold_key;
      const auto* words = reinterpret_cast<const uint64_t*>(address);
      uint64_t w = 0;
      while (w < kWordsPerPage && words[w] == ((address + w * 8) ^ key)) ++w;
      if (w == kWordsPerPage) continue;
      if (bad < kMaxBadReports) bad_pages[bad] = BadPage{address, w, (address + w * 8) ^ key, words[w]};
      ++bad;
    }
  }
  kprintf("memws: verify pages=%lu bad=%lu\n", set.page_count(), bad);
  for (uint64_t i = 0; i < bad && i < kMaxBadReports; ++i) {
    const BadPage& p = bad_pages[i];
    kprintf("memws: bad page 0x%lx word %lu expected 0x%016lx read 0x%016lx\n", p.address, p.word, p.expected,
            p.read);
  }
  return bad == 0;
}

}  // namespace

uint64_t memws_kept_bytes() { return g_kept_bytes; }

bool memws(const MemwsOptions& options, const char** error) {
  const uint64_t pages = (options.total_bytes + mm::kPageSize - 1) / mm::kPageSize;
  const uint64_t ws_pages = (options.ws_bytes + mm::kPageSize - 1) / mm::kPageSize;
  if (ws_pages == 0 || ws_pages > pages) {
    *error = "WS must be at least 1 byte and at most TOTAL";
    return false;
  }
  // Room for every pass's figure first, so it is not taken from the region's memory later.
  mm::WordArray tenths;
  if (!tenths.resize(options.passes)) {
    *error = "not enough free memory";
    return false;
  }
  tenths.resize(0);
  mm::PageSet set;
  if (!set.allocate(pages)) {
    *error = "not enough free memory";
    return false;
  }
  const uint64_t total_bytes = pages * mm::kPageSize;
  const uint64_t ws_bytes = ws_pages * mm::kPageSize;

  uint64_t start = dev::now_ns();
  for (size_t b = 0; b < set.block_count(); ++b) fill_words(set.block_address(b), set.block_page_count(b), pass_key(0));
  uint64_t elapsed_ns = dev::now_ns() - start;
  kprintf("memws: fill total=");
  kprint_size(total_bytes);
  kprintf(" time_us=%lu", elapsed_ns / 1000);
  print_tenths("mbps", mbps_tenths(total_bytes, elapsed_ns));
  kprintf("\n");

  uint64_t best = 0;
  for (unsigned pass = 1; pass <= options.passes; ++pass) {
    const uint64_t delta = pass_key(pass - 1) ^ pass_key(pass);
    start = dev::now_ns();
    uint64_t left = ws_pages;
    for (size_t b = 0; b < set.block_count() && left > 0; ++b) {
      const uint64_t n = set.block_page_count(b) < left ? set.block_page_count(b) : left;
      xor_words(set.block_address(b), n * kWordsPerPage, delta);
      left -= n;
    }
    elapsed_ns = dev::now_ns() - start;
    const uint64_t rate = mbps_tenths(ws_bytes, elapsed_ns);
    tenths.push(rate);  // reserved above: cannot fail
    if (rate > best) best = rate;
    kprintf("memws: pass %u/%u ws=", pass, options.passes);
    kprint_size(ws_bytes);
    kprintf(" total=");
    kprint_size(total_bytes);
    kprintf(" time_us=%lu", elapsed_ns / 1000);
    print_tenths("mbps", rate);
    kprintf("\n");
  }
  const uint64_t last = tenths[tenths.size() - 1];
  kprintf("memws: done ws=");
  kprint_size(ws_bytes);
  kprintf(" total=");
  kprint_size(total_bytes);
  kprintf(" passes=%u", options.passes);
  print_tenths("best_mbps", best);
  print_tenths("last_mbps", last);
  print_tenths("median_mbps", median_tenths(tenths));
  kprintf("\n");

  const bool intact = verify(set, ws_pages, pass_key(options.passes), pass_key(0));
  if (options.keep) {
    g_kept_bytes += total_bytes;
    set.forget();  // the block list stays allocated too, recording what is kept
  }
  if (!intact) {
    *error = "bad pages (listed above)";
    return false;
  }
  return true;
}

}  // namespace tg
