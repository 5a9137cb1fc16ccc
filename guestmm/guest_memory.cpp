#include "guestmm/guest_memory.hpp"

#include <algorithm>
#include <cstring>

#include "guestmm/base/log.hpp"
#include "guestmm/host/raw_access.hpp"

namespace tide::gmm {
namespace {

Error out_of_ram(Gpa gpa, uint64_t len) {
  return make_error(std::errc::bad_address,
                    log::strf("guest range 0x%llx+0x%llx is outside guest RAM",
                              static_cast<unsigned long long>(gpa.value()),
                              static_cast<unsigned long long>(len)));
}

}  // namespace

GuestMemory::GuestMemory(std::vector<MemoryRegion> regions) : regions_(std::move(regions)) {
  std::sort(regions_.begin(), regions_.end(),
            [](const MemoryRegion& a, const MemoryRegion& b) { return a.base < b.base; });
}

const MemoryRegion* GuestMemory::find(Gpa gpa, uint64_t len) const {
  for (const MemoryRegion& r : regions_) {
    if (gpa < r.base) return nullptr;
    uint64_t off = gpa - r.base;
    // Written to avoid overflow: off <= size and len <= size - off.
    if (off < r.size_bytes && len <= r.size_bytes - off) return &r;
  }
  return nullptr;
}

bool GuestMemory::contains(Gpa gpa, uint64_t len) const { return find(gpa, len) != nullptr; }

uint64_t GuestMemory::total_bytes() const {
  uint64_t total = 0;
  for (const MemoryRegion& r : regions_) total += r.size_bytes;
  return total;
}

Status GuestMemory::read(Gpa gpa, std::span<std::byte> out) const {
  const MemoryRegion* r = find(gpa, out.size());
  if (!r) return out_of_ram(gpa, out.size());
  if (!out.empty()) std::memcpy(out.data(), r->host + (gpa - r->base), out.size());
  return ok();
}

Status GuestMemory::write(Gpa gpa, std::span<const std::byte> in) const {
  const MemoryRegion* r = find(gpa, in.size());
  if (!r) return out_of_ram(gpa, in.size());
  if (!in.empty()) std::memcpy(r->host + (gpa - r->base), in.data(), in.size());
  return ok();
}

Result<uint16_t> GuestMemory::load_acquire_u16(Gpa gpa) const {
  const MemoryRegion* r = find(gpa, 2);
  if (!r || (gpa.value() & 1) != 0) return out_of_ram(gpa, 2);
  return host::load_acquire_u16(r->host + (gpa - r->base));
}

Status GuestMemory::store_release_u16(Gpa gpa, uint16_t value) const {
  const MemoryRegion* r = find(gpa, 2);
  if (!r || (gpa.value() & 1) != 0) return out_of_ram(gpa, 2);
  host::store_release_u16(r->host + (gpa - r->base), value);
  return ok();
}

Result<std::span<std::byte>> GuestMemory::host_range(Gpa gpa, uint64_t len) const {
  const MemoryRegion* r = find(gpa, len);
  if (!r) return out_of_ram(gpa, len);
  return std::span<std::byte>(r->host + (gpa - r->base), len);
}

}  // namespace tide::gmm
