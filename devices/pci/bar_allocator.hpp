// BarAllocator: hands out naturally aligned BAR addresses from one MMIO window (for tide,
// the MMIO32 window [0xC0000000, 0xE0000000) of docs/machine.md). A bump allocator: BARs
// are assigned once at set-up and never freed (no hot-unplug), so it only keeps a cursor.
// Invariant: base <= cursor <= end; every returned range lies in [base, cursor).
// Not synchronized: the PCI root calls it under its own lock.
#pragma once

#include <cstdint>

#include "guestmm/base/error.hpp"

namespace tide::dev {

class BarAllocator {
 public:
  BarAllocator(uint64_t base, uint64_t size_bytes);

  // A `size_bytes`-aligned range of `size_bytes` (a power of two). Fails with
  // invalid_argument for a size that is not a power of two, not_enough_memory when the
  // window is full.
  [[nodiscard]] Result<uint64_t> allocate(uint64_t size_bytes);

  [[nodiscard]] uint64_t base() const { return base_; }
  [[nodiscard]] uint64_t end() const { return end_; }
  [[nodiscard]] uint64_t used_bytes() const { return cursor_ - base_; }
  [[nodiscard]] Status check_invariants() const;

 private:
  uint64_t base_;
  uint64_t end_;
  uint64_t cursor_;
};

}  // namespace tide::dev
