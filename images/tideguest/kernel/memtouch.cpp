// memtouch workload (see memtouch.hpp).
#include "kernel/memtouch.hpp"

#include <cstddef>

#include "dev/clock.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"
#include "mm/buddy.hpp"

namespace tg {
namespace {

constexpr uint64_t kWordsPerPage = mm::kPageSize / sizeof(uint64_t);
constexpr uint64_t kOrderMask = mm::kPageSize - 1;  // a block's order sits in its low bits
constexpr uint64_t kPermutationSeed = 0x9e3779b97f4a7c15ull;

uint64_t g_kept_bytes = 0;

// A growable array of words in page-allocator memory (the kernel has no heap).
class WordArray {
 public:
  ~WordArray() { release(); }
  bool push(uint64_t value) {
    if (size_ == capacity_ && !grow()) return false;
    data_[size_++] = value;
    return true;
  }
  bool resize(size_t size) {
    while (capacity_ < size) {
      if (!grow()) return false;
    }
    size_ = size;
    return true;
  }
  size_t size() const { return size_; }
  uint64_t& operator[](size_t i) { return data_[i]; }
  uint64_t* data() { return data_; }
  // Forgets the storage without freeing it (for `keep`).
  void abandon() {
    data_ = nullptr;
    size_ = 0;
    capacity_ = 0;
  }
  void release() {
    if (data_ != nullptr) mm::free_pages(reinterpret_cast<uint64_t>(data_), order_);
    abandon();
  }

 private:
  bool grow() {
    unsigned order = data_ == nullptr ? 0 : order_ + 1;
    uint64_t fresh = mm::alloc_pages(order);
    if (fresh == 0) return false;
    if (data_ != nullptr) {
      memcpy(reinterpret_cast<void*>(fresh), data_, size_ * sizeof(uint64_t));
      mm::free_pages(reinterpret_cast<uint64_t>(data_), order_);
    }
    data_ = reinterpret_cast<uint64_t*>(fresh);
    order_ = order;
    capacity_ = (mm::kPageSize << order) / sizeof(uint64_t);
    return true;
  }

  uint64_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  unsigned order_ = 0;
};

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

void heap_sift(uint64_t* a, size_t start, size_t end) {
  size_t root = start;
  while (2 * root + 1 < end) {
    size_t child = 2 * root + 1;
    if (child + 1 < end && a[child] < a[child + 1]) ++child;
    if (!(a[root] < a[child])) return;
    uint64_t t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

void heap_sort(uint64_t* a, size_t n) {
  for (size_t i = n / 2; i-- > 0;) heap_sift(a, i, n);
  for (size_t end = n; end-- > 1;) {
    uint64_t t = a[0];
    a[0] = a[end];
    a[end] = t;
    heap_sift(a, 0, end);
  }
}

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

void print_size(uint64_t bytes) {
  if (bytes % (1ull << 20) == 0) kprintf("%luMiB", bytes >> 20);
  else if (bytes % (1ull << 10) == 0) kprintf("%luKiB", bytes >> 10);
  else kprintf("%luB", bytes);
}

}  // namespace

uint64_t memtouch_kept_bytes() { return g_kept_bytes; }

bool memtouch(const MemtouchOptions& options, const char** error) {
  const uint64_t pages = (options.size_bytes + mm::kPageSize - 1) / mm::kPageSize;
  if (pages == 0) {
    *error = "size must be at least 1 byte";
    return false;
  }
  if (pages > mm::page_allocator().free_page_count()) {
    *error = "not enough free memory";
    return false;
  }
  // Blocks as address | order, largest orders first.
  WordArray blocks;
  uint64_t remaining = pages;
  unsigned max_order = mm::kMaxOrder;
  bool ok = true;
  while (remaining > 0 && ok) {
    unsigned order = max_order;
    while ((1ull << order) > remaining) --order;
    uint64_t block = mm::alloc_pages(order);
    if (block == 0) {
      if (order == 0) ok = false;
      else max_order = order - 1;
      continue;
    }
    if (!blocks.push(block | order)) {
      mm::free_pages(block, order);
      ok = false;
      break;
    }
    remaining -= 1ull << order;
  }
  if (!ok) {
    for (size_t i = 0; i < blocks.size(); ++i)
      mm::free_pages(blocks[i] & ~kOrderMask, static_cast<unsigned>(blocks[i] & kOrderMask));
    *error = "not enough free memory";
    return false;
  }
  heap_sort(blocks.data(), blocks.size());
  // first_page[i]: index of block i's first page in address order (for rand mode).
  WordArray first_page;
  if (options.random) {
    if (!first_page.resize(blocks.size())) {
      for (size_t i = 0; i < blocks.size(); ++i)
        mm::free_pages(blocks[i] & ~kOrderMask, static_cast<unsigned>(blocks[i] & kOrderMask));
      *error = "not enough free memory for the page index";
      return false;
    }
    uint64_t next = 0;
    for (size_t i = 0; i < blocks.size(); ++i) {
      first_page[i] = next;
      next += 1ull << (blocks[i] & kOrderMask);
    }
  }
  const uint64_t bytes = pages * mm::kPageSize;
  const PagePermutation permutation(pages, kPermutationSeed);
  for (unsigned pass = 1; pass <= options.passes; ++pass) {
    const uint64_t value = 0x0123456789abcdefull * pass;
    const uint64_t start = dev::now_ns();
    if (!options.random) {
      for (size_t i = 0; i < blocks.size(); ++i) {
        auto* words = reinterpret_cast<uint64_t*>(blocks[i] & ~kOrderMask);
        touch(words, kWordsPerPage << (blocks[i] & kOrderMask), value);
      }
    } else {
      for (uint64_t i = 0; i < pages; ++i) {
        uint64_t page = permutation(i);
        // The last block starting at or before `page`.
        size_t lo = 0, hi = blocks.size();
        while (hi - lo > 1) {
          size_t mid = (lo + hi) / 2;
          if (first_page[mid] <= page) lo = mid;
          else hi = mid;
        }
        uint64_t address = (blocks[lo] & ~kOrderMask) + (page - first_page[lo]) * mm::kPageSize;
        touch(reinterpret_cast<uint64_t*>(address), kWordsPerPage, value);
      }
    }
    const uint64_t elapsed_ns = dev::now_ns() - start;
    // MiB/s in tenths: bytes / 2^20 / (ns / 1e9) * 10 = KiB * 1e10 / 1024 / ns.
    const uint64_t tenths = elapsed_ns == 0 ? 0 : (bytes >> 10) * 9765625ull / elapsed_ns;
    kprintf("memtouch: pass %u/%u size=", pass, options.passes);
    print_size(bytes);
    kprintf(" mode=%s time_us=%lu mbps=%lu.%lu\n", options.random ? "rand" : "seq",
            elapsed_ns / 1000, tenths / 10, tenths % 10);
  }
  if (options.keep) {
    g_kept_bytes += bytes;
    blocks.abandon();  // the block list stays allocated too, recording what is kept
  } else {
    for (size_t i = 0; i < blocks.size(); ++i)
      mm::free_pages(blocks[i] & ~kOrderMask, static_cast<unsigned>(blocks[i] & kOrderMask));
  }
  return true;
}

}  // namespace tg
