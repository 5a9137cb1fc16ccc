// Little-endian packing of register values into the byte spans that bus accesses carry.
// Pure helpers, no state. Widths above 8 bytes are truncated to the low 8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tide::dev {

// The value of `bytes` read as a little-endian integer (at most 8 bytes count).
[[nodiscard]] inline uint64_t load_le(std::span<const uint8_t> bytes) {
  uint64_t v = 0;
  size_t n = bytes.size() < 8 ? bytes.size() : 8;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{bytes[i]} << (8 * i);
  return v;
}

// Writes the low bytes.size() bytes of `value` into `bytes`, little-endian.
inline void store_le(std::span<uint8_t> bytes, uint64_t value) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = i < 8 ? static_cast<uint8_t>(value >> (8 * i)) : uint8_t{0};
  }
}

// True for the access widths a bus delivers (1, 2, 4, 8).
[[nodiscard]] inline bool is_access_width(size_t n) { return n == 1 || n == 2 || n == 4 || n == 8; }

}  // namespace tide::dev
