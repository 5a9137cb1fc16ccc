#include "guestmm/guest_ram.hpp"

#include "guestmm/base/log.hpp"

namespace tide::gmm {

Result<GuestRam> GuestRam::create_flat(const Pool& pool, uint64_t pool_offset,
                                       std::vector<RamRange> ranges) {
  uint64_t total = 0;
  Gpa prev_end(0);
  for (const RamRange& r : ranges) {
    if (!page_aligned(r.base.value()) || !page_aligned(r.size_bytes) || r.size_bytes == 0 ||
        r.base < prev_end) {
      return make_error(std::errc::invalid_argument, "guest RAM ranges must be page-aligned, sorted and disjoint");
    }
    prev_end = r.base + r.size_bytes;
    total += r.size_bytes;
  }
  if (pool_offset > pool.size_bytes() || total > pool.size_bytes() - pool_offset) {
    return make_error(std::errc::not_enough_memory,
                      log::strf("the pool (%llu MiB) cannot hold %llu MiB of guest RAM",
                                static_cast<unsigned long long>(pool.size_bytes() >> 20),
                                static_cast<unsigned long long>(total >> 20)));
  }
  GuestRam ram;
  TIDE_TRY_ASSIGN(window, host::Mapping::reserve(total, kExtentSize));
  TIDE_TRY(window.map_shared_fixed(0, pool.memfd().fd(), pool_offset, total));
  uint64_t at = 0;
  for (const RamRange& r : ranges) {
    ram.regions_.push_back(MemoryRegion{r.base, r.size_bytes, window.data() + at});
    at += r.size_bytes;
  }
  ram.window_ = std::move(window);
  ram.ranges_ = std::move(ranges);
  return ram;
}

}  // namespace tide::gmm
