#include "vmm/machine/layout.hpp"

namespace tide::vmm::layout {

std::vector<gmm::RamRange> ram_ranges(uint64_t memory_bytes) {
  std::vector<gmm::RamRange> out;
  uint64_t low = memory_bytes < kMmioHoleStart ? memory_bytes : kMmioHoleStart;
  out.push_back(gmm::RamRange{gmm::Gpa(0), low});
  if (memory_bytes > low) out.push_back(gmm::RamRange{gmm::Gpa(kRamHighStart), memory_bytes - low});
  return out;
}

}  // namespace tide::vmm::layout
