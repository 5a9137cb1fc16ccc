// Mapping: an owned range of VMM virtual memory (munmap on destruction). A window is
// reserved with reserve() (PROT_NONE, no backing) and then filled piecewise with
// map_shared_fixed(), which replaces pages inside it with a view of a memfd range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "guestmm/base/error.hpp"

namespace tide::gmm::host {

class Mapping {
 public:
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping(Mapping&& o) noexcept
      : base_(std::exchange(o.base_, nullptr)), size_bytes_(std::exchange(o.size_bytes_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept;
  ~Mapping();

  // Address space only (PROT_NONE, MAP_NORESERVE), aligned to `align` (a power of two).
  [[nodiscard]] static Result<Mapping> reserve(uint64_t size_bytes, uint64_t align);
  // Private zero-filled read/write memory that costs nothing until touched (MAP_NORESERVE):
  // for tables sized to the pool or to a guest.
  [[nodiscard]] static Result<Mapping> anonymous(uint64_t size_bytes);
  // A MAP_SHARED read/write view of [offset, offset+size) of `fd`.
  [[nodiscard]] static Result<Mapping> map_shared(int fd, uint64_t offset, uint64_t size_bytes);

  // Replaces [at, at+len) of this mapping with a shared view of fd at `offset` (MAP_FIXED).
  [[nodiscard]] Status map_shared_fixed(uint64_t at, int fd, uint64_t offset, uint64_t len);

  [[nodiscard]] std::byte* data() const { return base_; }
  [[nodiscard]] uint64_t size_bytes() const { return size_bytes_; }

 private:
  Mapping(std::byte* base, uint64_t size) : base_(base), size_bytes_(size) {}
  std::byte* base_ = nullptr;
  uint64_t size_bytes_ = 0;
};

// The mapping as an array of T. Safe for trivially constructible T: mmap returns zeroed,
// page-aligned memory, and a zero T is what the tables built on it start from.
template <class T>
T* as_array(const Mapping& m) {
  static_assert(std::is_trivially_default_constructible_v<T>);
  return reinterpret_cast<T*>(m.data());
}

}  // namespace tide::gmm::host
