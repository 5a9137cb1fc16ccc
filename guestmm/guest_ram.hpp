// GuestRam: one guest's RAM window — a reserved VMM range that KVM memslots cover, whose
// pages are views of pool frames. The guest's RAM ranges (GPA) are laid end to end in the
// window. This version maps a contiguous pool range flat; the frame allocator, P2M and
// userfaultfd faults replace the flat mapping without changing this interface.
#pragma once

#include <cstdint>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/guest_memory.hpp"
#include "guestmm/host/mapping.hpp"
#include "guestmm/pool.hpp"
#include "guestmm/types.hpp"

namespace tide::gmm {

struct RamRange {
  Gpa base;
  uint64_t size_bytes = 0;
};

class GuestRam {
 public:
  // Maps pool bytes [pool_offset, pool_offset + sum(ranges)) into a new window.
  // Ranges must be page-aligned, sorted and disjoint. Errors: bad ranges, pool too small,
  // mapping failures.
  [[nodiscard]] static Result<GuestRam> create_flat(const Pool& pool, uint64_t pool_offset,
                                                    std::vector<RamRange> ranges);

  [[nodiscard]] uint64_t size_bytes() const { return window_.size_bytes(); }
  [[nodiscard]] const std::vector<RamRange>& ranges() const { return ranges_; }
  // One region per RAM range, pointing into the window (also what KVM memslots need).
  [[nodiscard]] const std::vector<MemoryRegion>& regions() const { return regions_; }
  [[nodiscard]] GuestMemory memory() const { return GuestMemory(regions_); }

 private:
  host::Mapping window_;
  std::vector<RamRange> ranges_;
  std::vector<MemoryRegion> regions_;
};

}  // namespace tide::gmm
