// Held memory (see memhold.hpp).
#include "kernel/memhold.hpp"

#include "mm/buddy.hpp"
#include "mm/word_array.hpp"

namespace tg {
namespace {

constexpr uint64_t kOrderMask = mm::kPageSize - 1;  // a held block's order in its low bits
// The list is one max-order block at most (a WordArray does not chain blocks).
constexpr uint64_t kMaxEntries = (mm::kPageSize << mm::kMaxOrder) / sizeof(uint64_t);

mm::WordArray g_held;  // address | order of each held block
uint64_t g_held_pages = 0;

void write_page(uint64_t address, uint64_t value) {
  auto* words = reinterpret_cast<volatile uint64_t*>(address);
  for (uint64_t i = 0; i < mm::kPageSize / sizeof(uint64_t); ++i) words[i] = value;
}

// Makes room for `more` entries up front (as far as the list can grow), so it need not
// grow (and allocate) while memory is scarce: after deflate-on-OOM the pages come one
// by one.
bool reserve(uint64_t more) {
  const size_t size = g_held.size();
  if (size + more > kMaxEntries) more = kMaxEntries - size;
  if (!g_held.resize(size + more)) return false;
  g_held.resize(size);
  return true;
}

// Frees the entries from `first` on and drops them from the list.
void drop_from(size_t first) {
  for (size_t i = first; i < g_held.size(); ++i) {
    const unsigned order = static_cast<unsigned>(g_held[i] & kOrderMask);
    mm::free_pages(g_held[i] & ~kOrderMask, order);
    g_held_pages -= 1ull << order;
  }
  g_held.resize(first);
}

}  // namespace

uint64_t held_pages() { return g_held_pages; }

bool memhold(uint64_t size_bytes, HoldResult* result, const char** error) {
  const uint64_t pages = (size_bytes + mm::kPageSize - 1) / mm::kPageSize;
  if (pages == 0) {
    *error = "size must be at least 1 byte";
    return false;
  }
  const mm::BuddyAllocator& allocator = mm::page_allocator();
  if (pages > allocator.free_page_count() + allocator.reclaimable_page_count() || !reserve(pages)) {
    *error = "not enough memory";
    return false;
  }
  const size_t first = g_held.size();
  uint64_t remaining = pages;
  unsigned max_order = mm::kMaxOrder;
  while (remaining > 0) {
    unsigned order = max_order;
    while ((1ull << order) > remaining) --order;
    // A request that finds memory short asks the reclaimers (page cache, deflate-on-OOM).
    const uint64_t block = mm::alloc_pages(order);
    if (block == 0) {
      if (order == 0) break;
      max_order = order - 1;  // nothing this large left: smaller blocks from now on
      continue;
    }
    if (!g_held.push(block | order)) {
      mm::free_pages(block, order);
      break;
    }
    g_held_pages += 1ull << order;
    remaining -= 1ull << order;
  }
  if (remaining > 0) {
    drop_from(first);
    *error = "out of memory";
    return false;
  }
  for (size_t i = first; i < g_held.size(); ++i) {
    const uint64_t address = g_held[i] & ~kOrderMask;
    const uint64_t count = 1ull << (g_held[i] & kOrderMask);
    for (uint64_t p = 0; p < count; ++p) write_page(address + p * mm::kPageSize, address + p);
  }
  result->pages = pages;
  result->freed = 0;
  result->held = g_held_pages;
  return true;
}

bool memfrag(uint64_t size_bytes, HoldResult* result, const char** error) {
  const uint64_t pages = (size_bytes + mm::kPageSize - 1) / mm::kPageSize;
  if (pages == 0) {
    *error = "size must be at least 1 byte";
    return false;
  }
  if (g_held.size() + pages > kMaxEntries) {
    *error = "too large (the hold list takes at most 524288 single pages)";
    return false;
  }
  if (!reserve(pages)) {
    *error = "not enough memory";
    return false;
  }
  const size_t first = g_held.size();
  for (uint64_t i = 0; i < pages; ++i) {
    const uint64_t page = mm::alloc_pages(0);
    if (page == 0 || !g_held.push(page)) {
      if (page != 0) mm::free_pages(page, 0);
      drop_from(first);
      *error = "out of memory";
      return false;
    }
    ++g_held_pages;
  }
  // Consecutive order-0 allocations split blocks in address order, so freeing every
  // second one leaves single free pages between held ones, none able to merge.
  size_t kept = first;
  uint64_t freed = 0;
  for (size_t i = first; i < g_held.size(); ++i) {
    if ((i - first) % 2 == 1) {
      mm::free_pages(g_held[i], 0);
      --g_held_pages;
      ++freed;
    } else {
      write_page(g_held[i], g_held[i]);
      g_held[kept++] = g_held[i];
    }
  }
  g_held.resize(kept);
  result->pages = pages;
  result->freed = freed;
  result->held = g_held_pages;
  return true;
}

uint64_t memdrop() {
  const uint64_t pages = g_held_pages;
  drop_from(0);
  g_held.release();
  return pages;
}

}  // namespace tg
