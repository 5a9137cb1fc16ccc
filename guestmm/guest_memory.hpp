// GuestMemory: the one checked accessor through which devices and the VMM reach guest RAM.
// It holds the guest's RAM regions (GPA range -> host range); every access is checked for
// bounds and overflow and never crosses a region. Raw host pointers come out of exactly one
// function, host_range(), meant for handing a range to the kernel (getrandom, readv, ...).
// Thread-safety: immutable after construction; any thread may access concurrently (guest
// memory itself is shared with vCPUs, so contents may change under a reader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/types.hpp"

namespace tide::gmm {

struct MemoryRegion {
  Gpa base;
  uint64_t size_bytes = 0;
  std::byte* host = nullptr;  // host address of `base`; the range is size_bytes long
};

class GuestMemory {
 public:
  GuestMemory() = default;
  // Regions must not overlap; they are kept sorted by base.
  explicit GuestMemory(std::vector<MemoryRegion> regions);

  // True if [gpa, gpa+len) lies inside one region (len 0 is contained if gpa is in RAM).
  [[nodiscard]] bool contains(Gpa gpa, uint64_t len) const;
  [[nodiscard]] uint64_t total_bytes() const;
  [[nodiscard]] const std::vector<MemoryRegion>& regions() const { return regions_; }

  [[nodiscard]] Status read(Gpa gpa, std::span<std::byte> out) const;
  [[nodiscard]] Status write(Gpa gpa, std::span<const std::byte> in) const;

  template <class T>
  [[nodiscard]] Result<T> read_obj(Gpa gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value{};
    auto r = read(gpa, std::as_writable_bytes(std::span<T, 1>(&value, 1)));
    if (!r) return r.error();
    return value;
  }
  template <class T>
  [[nodiscard]] Status write_obj(Gpa gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(gpa, std::as_bytes(std::span<const T, 1>(&value, 1)));
  }

  // Naturally aligned atomic accesses for fields shared with a running guest (virtqueue
  // indices). Misaligned or out-of-RAM addresses are errors.
  [[nodiscard]] Result<uint16_t> load_acquire_u16(Gpa gpa) const;
  [[nodiscard]] Status store_release_u16(Gpa gpa, uint16_t value) const;

  // The host bytes of [gpa, gpa+len) inside one region, for handing to a syscall.
  [[nodiscard]] Result<std::span<std::byte>> host_range(Gpa gpa, uint64_t len) const;

 private:
  [[nodiscard]] const MemoryRegion* find(Gpa gpa, uint64_t len) const;
  std::vector<MemoryRegion> regions_;
};

}  // namespace tide::gmm
