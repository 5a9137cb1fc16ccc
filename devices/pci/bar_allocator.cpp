#include "devices/pci/bar_allocator.hpp"

#include <bit>

#include "guestmm/base/log.hpp"

namespace tide::dev {

BarAllocator::BarAllocator(uint64_t base, uint64_t size_bytes) : base_(base), end_(base + size_bytes), cursor_(base) {}

Result<uint64_t> BarAllocator::allocate(uint64_t size_bytes) {
  if (size_bytes == 0 || !std::has_single_bit(size_bytes)) {
    return make_error(std::errc::invalid_argument,
                      log::strf("BAR size 0x%llx is not a power of two", static_cast<unsigned long long>(size_bytes)));
  }
  uint64_t start = (cursor_ + size_bytes - 1) & ~(size_bytes - 1);
  if (start < cursor_ || start > end_ || size_bytes > end_ - start) {
    return make_error(
        std::errc::not_enough_memory,
        log::strf("no room for a 0x%llx-byte BAR in the PCI MMIO window (0x%llx used)",
                  static_cast<unsigned long long>(size_bytes), static_cast<unsigned long long>(used_bytes())));
  }
  cursor_ = start + size_bytes;
  return start;
}

Status BarAllocator::check_invariants() const {
  if (base_ > end_ || cursor_ < base_ || cursor_ > end_) {
    return make_error(std::errc::state_not_recoverable, "BAR allocator cursor outside its window");
  }
  return ok();
}

}  // namespace tide::dev
