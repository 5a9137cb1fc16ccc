// RAM ranges, reservations and the early page allocator (see phys_map.hpp).
#include "mm/phys_map.hpp"

namespace tg::mm {
namespace {

PhysMap g_phys_map;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

}  // namespace

PhysMap& phys_map() { return g_phys_map; }

void PhysMap::insert_merged(PhysRange* list, size_t* count, PhysRange r) {
  if (r.end <= r.base) return;
  // Absorb every range that overlaps or touches r, then insert r in order.
  size_t out = 0;
  for (size_t i = 0; i < *count; ++i) {
    PhysRange cur = list[i];
    if (cur.end < r.base || cur.base > r.end) {
      list[out++] = cur;
    } else {
      if (cur.base < r.base) r.base = cur.base;
      if (cur.end > r.end) r.end = cur.end;
    }
  }
  if (out == kMaxRanges) return;  // full: drop (memory maps are far smaller)
  size_t pos = out;
  while (pos > 0 && list[pos - 1].base > r.base) {
    list[pos] = list[pos - 1];
    --pos;
  }
  list[pos] = r;
  *count = out + 1;
}

void PhysMap::add_ram(uint64_t base, uint64_t size) {
  insert_merged(ram_, &ram_count_, {align_up(base, kPageSize), align_down(base + size, kPageSize)});
}

void PhysMap::reserve(uint64_t base, uint64_t size) {
  insert_merged(reserved_, &reserved_count_,
                {align_down(base, kPageSize), align_up(base + size, kPageSize)});
}

uint64_t PhysMap::early_alloc(uint64_t floor, size_t count) {
  const uint64_t bytes = count * kPageSize;
  uint64_t found = 0;
  for_each_usable([&](uint64_t base, uint64_t end) {
    if (found != 0) return;
    uint64_t start = base < floor ? align_up(floor, kPageSize) : base;
    if (start < end && end - start >= bytes) found = start;
  });
  if (found != 0) reserve(found, bytes);
  return found;
}

uint64_t PhysMap::ram_bytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < ram_count_; ++i) total += ram_[i].size();
  return total;
}

bool PhysMap::overlaps_ram(uint64_t base, uint64_t end) const {
  for (size_t i = 0; i < ram_count_; ++i) {
    if (base < ram_[i].end && end > ram_[i].base) return true;
  }
  return false;
}

}  // namespace tg::mm
