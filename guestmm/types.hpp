// Address and frame-number types of the memory model (ARCHITECTURE.md §2).
//   Gpa  guest physical address          Gfn  guest frame number (Gpa >> 12)
//   Mfn  pool frame number ("machine")   Hva  VMM virtual address
// They are distinct types with explicit conversions so a GFN can never be passed where an
// MFN is expected. Units: frames are 4 KiB; an extent is 2 MiB (512 frames).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace tide::gmm {

inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint64_t kExtentShift = 21;
inline constexpr uint64_t kExtentSize = uint64_t{1} << kExtentShift;
inline constexpr uint64_t kPagesPerExtent = kExtentSize / kPageSize;

template <class Tag>
class Number {
 public:
  constexpr Number() = default;
  constexpr explicit Number(uint64_t v) : v_(v) {}
  [[nodiscard]] constexpr uint64_t value() const { return v_; }
  constexpr auto operator<=>(const Number&) const = default;
  constexpr Number operator+(uint64_t n) const { return Number(v_ + n); }
  constexpr Number operator-(uint64_t n) const { return Number(v_ - n); }
  constexpr uint64_t operator-(Number o) const { return v_ - o.v_; }
  constexpr Number& operator+=(uint64_t n) {
    v_ += n;
    return *this;
  }
  constexpr Number& operator++() {
    ++v_;
    return *this;
  }

 private:
  uint64_t v_ = 0;
};

struct GpaTag {};
struct GfnTag {};
struct MfnTag {};
struct HvaTag {};
using Gpa = Number<GpaTag>;
using Gfn = Number<GfnTag>;
using Mfn = Number<MfnTag>;
using Hva = Number<HvaTag>;

[[nodiscard]] constexpr Gfn gfn_of(Gpa a) { return Gfn(a.value() >> kPageShift); }
[[nodiscard]] constexpr Gpa gpa_of(Gfn f) { return Gpa(f.value() << kPageShift); }
[[nodiscard]] constexpr uint64_t page_offset(Gpa a) { return a.value() & (kPageSize - 1); }
[[nodiscard]] constexpr uint64_t pages_for(uint64_t size_bytes) {
  return (size_bytes + kPageSize - 1) >> kPageShift;
}
[[nodiscard]] constexpr bool page_aligned(uint64_t v) { return (v & (kPageSize - 1)) == 0; }
[[nodiscard]] constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
[[nodiscard]] constexpr uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

}  // namespace tide::gmm

template <class Tag>
struct std::hash<tide::gmm::Number<Tag>> {
  size_t operator()(tide::gmm::Number<Tag> n) const noexcept { return std::hash<uint64_t>{}(n.value()); }
};
