// Scaled sizes as libvirt domain XML writes them: a decimal count plus a `unit=` suffix,
// scaled exactly as libvirt's virScaleInteger does (case-insensitive; b/byte/bytes = 1;
// k/KiB..e/EiB powers of 1024; KB..EB powers of 1000; no unit = the caller's default,
// KiB for every size in a domain). Pure functions: no state, callable from any thread.
// Errors are plain phrases ("'12x' is not a number"); callers add the element and line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "guestmm/base/error.hpp"

namespace tide::vmm {

inline constexpr uint64_t kKiB = 1024;
// The guest page: domain XML memory sizes are rounded up to a multiple of it.
inline constexpr uint64_t kGuestPageBytes = 4 * kKiB;

// libvirt's VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (2^53 - 1), in KiB: a <memtune> limit at or
// above it means "no limit"; libvirt writes it for an unlimited value.
inline constexpr uint64_t kLibvirtUnlimitedKiB = (uint64_t{1} << 53) - 1;

// Bytes per `unit`: "" gives `default_scale`. Accepts what libvirt accepts, in any case:
// b, byte, bytes; k, KiB, M, MiB, G, GiB, T, TiB, P, PiB, E, EiB (powers of 1024);
// KB, MB, GB, TB, PB, EB (powers of 1000). Error: unknown unit.
[[nodiscard]] Result<uint64_t> libvirt_unit_scale(std::string_view unit, uint64_t default_scale);

// A non-negative decimal integer, ASCII digits only; XML whitespace around it is allowed
// (the schema's unsignedLong collapses it). Errors: empty, not a number, above 2^64 - 1.
[[nodiscard]] Result<uint64_t> parse_decimal_u64(std::string_view text);

// value × scale of `unit`, in bytes. Errors: bad number, unknown unit, overflow of 64 bits.
[[nodiscard]] Result<uint64_t> parse_scaled_size(std::string_view value, std::string_view unit,
                                                 uint64_t default_scale = kKiB);

// `bytes` rounded up to a multiple of `align` (a power of two). Error: overflow.
[[nodiscard]] Result<uint64_t> round_up_to(uint64_t bytes, uint64_t align);

// The count and unit libvirt would write for `bytes`: KiB when it is a whole number of KiB
// (libvirt always writes KiB), else bytes. For format_domain_xml.
struct ScaledSize {
  uint64_t value = 0;
  const char* unit = "KiB";
};
[[nodiscard]] ScaledSize to_libvirt_size(uint64_t bytes);

// "512 MiB", "4 KiB", "1000 bytes": the largest binary unit that divides `bytes`, for messages.
[[nodiscard]] std::string describe_size(uint64_t bytes);

}  // namespace tide::vmm
