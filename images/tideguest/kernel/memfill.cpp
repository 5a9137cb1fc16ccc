// The fill region and its commands (see memfill.hpp).
#include "kernel/memfill.hpp"

#include <cstddef>

#include "dev/test_hooks.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"
#include "mm/buddy.hpp"
#include "mm/page_set.hpp"

namespace tg {
namespace {

constexpr uint64_t kWordsPerPage = mm::kPageSize / sizeof(uint64_t);
constexpr size_t kMaxBadReports = 8;
// Largest count one hook request can carry (the count port is 32 bits wide).
constexpr uint64_t kMaxHookPages = 0xffffffff;

struct FillRegion {
  mm::PageSet pages;
  uint64_t* released = nullptr;  // bitmap: bit i set = page i released since the last rewrite
  unsigned released_order = 0;
  uint64_t seed = 0;

  bool active() const { return !pages.empty(); }
  bool is_released(uint64_t page) const { return (released[page / 64] >> (page % 64)) & 1; }
  void mark_released(uint64_t page) { released[page / 64] |= 1ull << (page % 64); }
  void clear_released() {
    memset(released, 0, (pages.page_count() + 63) / 64 * sizeof(uint64_t));
  }
  void release_all() {
    pages.release();
    if (released != nullptr) mm::free_pages(reinterpret_cast<uint64_t>(released), released_order);
    released = nullptr;
  }
};

FillRegion g_region;

void fill_page(uint64_t address, uint64_t seed) {
  auto* words = reinterpret_cast<uint64_t*>(address);
  for (uint64_t i = 0; i < kWordsPerPage; ++i) words[i] = fill_word(address + i * 8, seed);
}

// Calls fn(first_page, address, page_count) for the pages stride apart from page 0, grouped
// into runs of physically contiguous pages of at most max_pages, in address order. Stops
// early, returning false, when fn does.
template <typename Fn>
bool for_each_selected_run(const mm::PageSet& set, uint64_t stride, uint64_t max_pages, Fn&& fn) {
  // A stride past the end selects page 0 alone; clamping keeps the index arithmetic in range.
  if (stride > set.page_count()) stride = set.page_count();
  uint64_t run_page = 0, run_address = 0, run_count = 0;
  for (size_t b = 0; b < set.block_count(); ++b) {
    const uint64_t first = set.block_first_page(b);
    const uint64_t end = first + set.block_page_count(b);
    for (uint64_t page = (first + stride - 1) / stride * stride; page < end;) {
      // With stride 1 the rest of the block is selected; otherwise just this page.
      uint64_t left = stride == 1 ? end - page : 1;
      uint64_t address = set.block_address(b) + (page - first) * mm::kPageSize;
      const uint64_t next = stride == 1 ? end : page + stride;
      while (left > 0) {
        uint64_t take;
        if (run_count > 0 && address == run_address + run_count * mm::kPageSize &&
            run_count < max_pages) {
          take = left < max_pages - run_count ? left : max_pages - run_count;
          run_count += take;
        } else {
          if (run_count > 0 && !fn(run_page, run_address, run_count)) return false;
          take = left < max_pages ? left : max_pages;
          run_page = page;
          run_address = address;
          run_count = take;
        }
        page += take;
        address += take * mm::kPageSize;
        left -= take;
      }
      page = next;
    }
  }
  return run_count == 0 || fn(run_page, run_address, run_count);
}

bool require_region(const char** error) {
  if (g_region.active()) return true;
  *error = "no memfill region (run memfill first)";
  return false;
}

}  // namespace

bool memfill(uint64_t size_bytes, uint64_t seed, const char** error) {
  const uint64_t page_count = (size_bytes + mm::kPageSize - 1) / mm::kPageSize;
  if (page_count == 0) {
    *error = "size must be at least 1 byte";
    return false;
  }
  g_region.release_all();
  const unsigned bitmap_order = mm::order_for_bytes((page_count + 63) / 64 * sizeof(uint64_t));
  if (bitmap_order > mm::kMaxOrder) {
    *error = "size too large for the release bitmap";
    return false;
  }
  const uint64_t bitmap = mm::alloc_pages(bitmap_order);
  if (bitmap == 0 || !g_region.pages.allocate(page_count)) {
    if (bitmap != 0) mm::free_pages(bitmap, bitmap_order);
    *error = "not enough free memory";
    return false;
  }
  g_region.released = reinterpret_cast<uint64_t*>(bitmap);
  g_region.released_order = bitmap_order;
  g_region.seed = seed;
  g_region.clear_released();
  for (size_t b = 0; b < g_region.pages.block_count(); ++b) {
    const uint64_t base = g_region.pages.block_address(b);
    for (uint64_t i = 0; i < g_region.pages.block_page_count(b); ++i)
      fill_page(base + i * mm::kPageSize, seed);
  }
  kprintf("memfill: size=");
  kprint_size(page_count * mm::kPageSize);
  kprintf(" pages=%lu seed=%lu\n", page_count, seed);
  return true;
}

bool hookrelease(uint64_t stride, uint64_t max_request_pages, const char** error) {
  if (!dev::test_hooks_present()) {
    *error = "tide test hooks are not enabled (tide run --test-hooks)";
    return false;
  }
  if (!require_region(error)) return false;
  const uint64_t max_pages =
      max_request_pages == 0 || max_request_pages > kMaxHookPages ? kMaxHookPages : max_request_pages;
  uint64_t requested = 0, released = 0;
  const bool ok = for_each_selected_run(
      g_region.pages, stride, max_pages, [&](uint64_t page, uint64_t address, uint64_t count) {
        const uint64_t gfn = address >> mm::kPageShift;
        if (gfn + count - 1 > 0xffffffffull) {
          *error = "page above the 16 TiB the GFN port can address";
          return false;
        }
        const uint32_t freed = dev::hook_release(static_cast<uint32_t>(gfn),
                                                 static_cast<uint32_t>(count));
        if (freed == dev::kHookReleaseRefused) {
          kprintf("hookrelease: refused gfn=0x%lx pages=%lu\n", gfn, count);
          *error = "tide refused a release request";
          return false;
        }
        requested += count;
        released += freed;
        for (uint64_t i = 0; i < count; ++i) g_region.mark_released(page + i);
        return true;
      });
  kprintf("hookrelease: requested=%lu released=%lu\n", requested, released);
  return ok;
}

bool memzap(uint64_t stride, bool mark, const char** error) {
  if (!require_region(error)) return false;
  uint64_t zeroed = 0, marked = 0;
  for_each_selected_run(g_region.pages, stride, kMaxHookPages,
                        [&](uint64_t page, uint64_t address, uint64_t count) {
                          memset(reinterpret_cast<void*>(address), 0, count * mm::kPageSize);
                          zeroed += count;
                          if (mark) {
                            for (uint64_t i = 0; i < count; ++i) g_region.mark_released(page + i);
                            marked += count;
                          }
                          return true;
                        });
  kprintf("memzap: zeroed=%lu marked=%lu\n", zeroed, marked);
  return true;
}

bool memverify(bool rewrite, const char** error) {
  if (!require_region(error)) return false;
  struct BadPage {
    uint64_t address;
    bool released;
    uint64_t word;
    uint64_t expected;
    uint64_t read;
  };
  BadPage bad_pages[kMaxBadReports];
  uint64_t intact = 0, zero = 0, bad = 0;
  const mm::PageSet& set = g_region.pages;
  const uint64_t seed = g_region.seed;
  for (size_t b = 0; b < set.block_count(); ++b) {
    for (uint64_t i = 0; i < set.block_page_count(b); ++i) {
      const uint64_t page = set.block_first_page(b) + i;
      const uint64_t address = set.block_address(b) + i * mm::kPageSize;
      const auto* words = reinterpret_cast<const uint64_t*>(address);
      const bool released = g_region.is_released(page);
      uint64_t w = 0;
      uint64_t expected = 0;
      for (; w < kWordsPerPage; ++w) {
        expected = released ? 0 : fill_word(address + w * 8, seed);
        if (words[w] != expected) break;
      }
      if (w == kWordsPerPage) {
        if (released) ++zero;
        else ++intact;
        continue;
      }
      if (bad < kMaxBadReports) bad_pages[bad] = BadPage{address, released, w, expected, words[w]};
      ++bad;
    }
  }
  kprintf("memverify: pages=%lu intact=%lu zero=%lu bad=%lu\n", set.page_count(), intact, zero,
          bad);
  for (uint64_t i = 0; i < bad && i < kMaxBadReports; ++i) {
    const BadPage& p = bad_pages[i];
    kprintf("memverify: bad page 0x%lx %s word %lu expected 0x%016lx read 0x%016lx\n", p.address,
            p.released ? "released" : "filled", p.word, p.expected, p.read);
  }
  if (rewrite) {
    for (size_t b = 0; b < set.block_count(); ++b) {
      for (uint64_t i = 0; i < set.block_page_count(b); ++i) {
        if (g_region.is_released(set.block_first_page(b) + i))
          fill_page(set.block_address(b) + i * mm::kPageSize, seed);
      }
    }
    g_region.clear_released();
  }
  if (bad > 0) {
    *error = "bad pages (listed above)";
    return false;
  }
  return true;
}

bool memfree(const char** error) {
  if (!require_region(error)) return false;
  const uint64_t page_count = g_region.pages.page_count();
  g_region.release_all();
  kprintf("memfree: pages=%lu\n", page_count);
  return true;
}

}  // namespace tg
