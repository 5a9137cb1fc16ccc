// memtouch workload (see memtouch.hpp).
#include "kernel/memtouch.hpp"

#include <cstddef>

#include "dev/clock.hpp"
#include "lib/format.hpp"
#include "mm/buddy.hpp"
#include "mm/page_set.hpp"

namespace tg {
namespace {

constexpr uint64_t kWordsPerPage = mm::kPageSize / sizeof(uint64_t);
constexpr uint64_t kPermutationSeed = 0x9e3779b97f4a7c15ull;

uint64_t g_kept_bytes = 0;

uint64_t xorshift64(uint64_t* state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

// A pseudo-random bijection on [0, n): a keyed permutation of [0, 2^bits) (multiply by
// odd, xor-shift, add: each step invertible modulo 2^bits), cycle-walked back into range.
// O(1) memory, so rand mode needs no index array however large the working set.
class PagePermutation {
 public:
  PagePermutation(uint64_t n, uint64_t seed) : n_(n) {
    while ((1ull << bits_) < n) ++bits_;
    mask_ = bits_ == 64 ? ~0ull : (1ull << bits_) - 1;
    for (auto& round : rounds_) {
      round.mul = xorshift64(&seed) | 1;
      round.add = xorshift64(&seed);
    }
  }
  uint64_t operator()(uint64_t i) const {
    uint64_t x = mix(i);
    while (x >= n_) x = mix(x);
    return x;
  }

 private:
  struct Round {
    uint64_t mul, add;
  };
  uint64_t mix(uint64_t x) const {
    const unsigned shift = bits_ / 2 + 1;
    for (const Round& r : rounds_) {
      x = (x * r.mul) & mask_;
      x ^= x >> shift;
      x = (x + r.add) & mask_;
    }
    return x;
  }

  uint64_t n_;
  unsigned bits_ = 0;
  uint64_t mask_ = 0;
  Round rounds_[3] = {};
};

inline void touch(uint64_t* words, uint64_t count, uint64_t value) {
  for (uint64_t i = 0; i < count; i += 8) {
    words[i + 0] = value;
    words[i + 1] = value;
    words[i + 2] = value;
    words[i + 3] = value;
    words[i + 4] = value;
    words[i + 5] = value;
    words[i + 6] = value;
    words[i + 7] = value;
  }
}

}  // namespace

uint64_t memtouch_kept_bytes() { return g_kept_bytes; }

bool memtouch(const MemtouchOptions& options, const char** error) {
  const uint64_t pages = (options.size_bytes + mm::kPageSize - 1) / mm::kPageSize;
  if (pages == 0) {
    *error = "size must be at least 1 byte";
    return false;
  }
  mm::PageSet set;
  if (!set.allocate(pages)) {
    *error = "not enough free memory";
    return false;
  }
  const uint64_t bytes = pages * mm::kPageSize;
  const PagePermutation permutation(pages, kPermutationSeed);
  for (unsigned pass = 1; pass <= options.passes; ++pass) {
    const uint64_t value = 0x0123456789abcdefull * pass;
    const uint64_t start = dev::now_ns();
    if (!options.random) {
      for (size_t i = 0; i < set.block_count(); ++i) {
        auto* words = reinterpret_cast<uint64_t*>(set.block_address(i));
        touch(words, kWordsPerPage * set.block_page_count(i), value);
      }
    } else {
      for (uint64_t i = 0; i < pages; ++i) {
        uint64_t address = set.page_address(permutation(i));
        touch(reinterpret_cast<uint64_t*>(address), kWordsPerPage, value);
      }
    }
    const uint64_t elapsed_ns = dev::now_ns() - start;
    // MiB/s in tenths: bytes / 2^20 / (ns / 1e9) * 10 = KiB * 1e10 / 1024 / ns.
    const uint64_t tenths = elapsed_ns == 0 ? 0 : (bytes >> 10) * 9765625ull / elapsed_ns;
    kprintf("memtouch: pass %u/%u size=", pass, options.passes);
    kprint_size(bytes);
    kprintf(" mode=%s time_us=%lu mbps=%lu.%lu\n", options.random ? "rand" : "seq",
            elapsed_ns / 1000, tenths / 10, tenths % 10);
  }
  if (options.keep) {
    g_kept_bytes += bytes;
    set.forget();  // the block list stays allocated too, recording what is kept
  }
  return true;
}

}  // namespace tg
