// PhysMap: what physical memory the kernel may use, before the page allocator exists.
// Holds the RAM ranges of the memory map (page-aligned inward, sorted, merged) and the
// reservations carved out of them (kernel image, loader data, page tables, allocator
// metadata), and hands out early pages: first fit above the kernel image, each early
// allocation becoming a reservation. Boot CPU only, before interrupts.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg::mm {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;

struct PhysRange {
  uint64_t base;
  uint64_t end;  // exclusive
  uint64_t size() const { return end - base; }
};

class PhysMap {
 public:
  static constexpr size_t kMaxRanges = 64;

  // Adds RAM [base, base + size), trimmed to whole pages.
  void add_ram(uint64_t base, uint64_t size);
  // Excludes [base, base + size), widened to whole pages, from allocation.
  void reserve(uint64_t base, uint64_t size);
  // Returns `count` contiguous RAM pages (not zeroed) at or above `floor` that avoid
  // every reservation, and reserves them. 0 when none fit.
  uint64_t early_alloc(uint64_t floor, size_t count);

  size_t ram_count() const { return ram_count_; }
  const PhysRange& ram(size_t i) const { return ram_[i]; }
  size_t reserved_count() const { return reserved_count_; }
  const PhysRange& reserved(size_t i) const { return reserved_[i]; }
  uint64_t ram_bytes() const;
  // Whether [base, end) overlaps any RAM range.
  bool overlaps_ram(uint64_t base, uint64_t end) const;
  // Calls fn(base, end) for each maximal page range that is RAM and not reserved.
  template <typename Fn>
  void for_each_usable(Fn&& fn) const;

 private:
  static void insert_merged(PhysRange* list, size_t* count, PhysRange r);

  PhysRange ram_[kMaxRanges] = {};
  size_t ram_count_ = 0;
  PhysRange reserved_[kMaxRanges] = {};
  size_t reserved_count_ = 0;
};

PhysMap& phys_map();

template <typename Fn>
void PhysMap::for_each_usable(Fn&& fn) const {
  // Both lists are sorted and merged, so one sweep suffices.
  size_t r = 0;
  for (size_t i = 0; i < ram_count_; ++i) {
    uint64_t cursor = ram_[i].base;
    const uint64_t end = ram_[i].end;
    while (r < reserved_count_ && reserved_[r].end <= cursor) ++r;
    size_t k = r;
    while (cursor < end) {
      if (k < reserved_count_ && reserved_[k].base < end) {
        if (reserved_[k].base > cursor) fn(cursor, reserved_[k].base);
        if (reserved_[k].end > cursor) cursor = reserved_[k].end;
        ++k;
      } else {
        fn(cursor, end);
        cursor = end;
      }
    }
  }
}

}  // namespace tg::mm
