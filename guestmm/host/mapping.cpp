#include "guestmm/host/mapping.hpp"

#include <sys/mman.h>

#include "guestmm/base/log.hpp"

namespace tide::gmm::host {

Mapping& Mapping::operator=(Mapping&& o) noexcept {
  if (this != &o) {
    if (base_) ::munmap(base_, size_bytes_);
    base_ = std::exchange(o.base_, nullptr);
    size_bytes_ = std::exchange(o.size_bytes_, 0);
  }
  return *this;
}

Mapping::~Mapping() {
  if (base_) ::munmap(base_, size_bytes_);
}

Result<Mapping> Mapping::reserve(uint64_t size_bytes, uint64_t align) {
  // Over-reserve by `align` and trim, so the window starts aligned (2 MiB alignment lets
  // the host back extents with huge pages and keeps KVM's mappings large).
  uint64_t total = size_bytes + align;
  void* p = ::mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return errno_error(log::strf("reserve %llu MiB of address space",
                                 static_cast<unsigned long long>(size_bytes >> 20)));
  }
  auto raw = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (raw + align - 1) & ~(uintptr_t{align} - 1);
  if (aligned > raw) ::munmap(p, aligned - raw);
  uintptr_t end = aligned + size_bytes;
  if (raw + total > end) ::munmap(reinterpret_cast<void*>(end), raw + total - end);
  return Mapping(reinterpret_cast<std::byte*>(aligned), size_bytes);
}

Result<Mapping> Mapping::anonymous(uint64_t size_bytes) {
  uint64_t size = (size_bytes + 4095) & ~uint64_t{4095};
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return errno_error(log::strf("map %llu KiB of table memory", static_cast<unsigned long long>(size >> 10)));
  }
  return Mapping(static_cast<std::byte*>(p), size);
}

Result<Mapping> Mapping::map_shared(int fd, uint64_t offset, uint64_t size_bytes) {
  void* p = ::mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    return errno_error(log::strf("map %llu MiB of the pool",
                                 static_cast<unsigned long long>(size_bytes >> 20)));
  }
  return Mapping(static_cast<std::byte*>(p), size_bytes);
}

Status Mapping::map_shared_fixed(uint64_t at, int fd, uint64_t offset, uint64_t len) {
  if (at > size_bytes_ || len > size_bytes_ - at) {
    return make_error(std::errc::invalid_argument, "map outside the window");
  }
  void* want = base_ + at;
  void* p = ::mmap(want, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                   static_cast<off_t>(offset));
  if (p == MAP_FAILED) return errno_error("map pool frames into the window");
  return ok();
}

}  // namespace tide::gmm::host
