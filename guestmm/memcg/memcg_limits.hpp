// The settings of one memcg node (cgroup v2's memory.max, memory.high, memory.low,
// memory.min, memory.swap.max), in pages, with their validation and the byte/text helpers
// the control plane uses (it speaks bytes and "max"; the tree speaks pages).
// Pure functions and a plain struct: no locking, callable from any thread.
//
// Tide follows cgroup v2 in what it accepts: any combination is valid (high above max,
// min above low; the kernel does not reject them either, and rejecting them would make the
// order of two writes matter). What is rejected: amounts beyond kMaxPages, byte amounts
// that are not whole pages, and protection (low, min) on the root, which is never
// protected from itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "guestmm/base/error.hpp"
#include "guestmm/memcg/memcg_types.hpp"

namespace tide::gmm::memcg {

enum class Limit : uint8_t { max, high, low, min, swap_max };
inline constexpr size_t kLimitCount = 5;

// The cgroup v2 file name without "memory.": "max", "high", "low", "min", "swap.max".
[[nodiscard]] const char* limit_name(Limit limit);

struct MemcgSettings {
  uint64_t max = kUnlimited;       // hard limit: a charge above it fails (reclaim, then OOM)
  uint64_t high = kUnlimited;      // throttle/reclaim threshold: charges succeed, reported
  uint64_t low = 0;                // best-effort protection from pool-wide reclaim
  uint64_t min = 0;                // hard protection: never reclaimed by pool-wide pressure
  uint64_t swap_max = kUnlimited;  // limit on swap slots charged

  [[nodiscard]] uint64_t get(Limit limit) const;
  void set(Limit limit, uint64_t pages);
  friend bool operator==(const MemcgSettings&, const MemcgSettings&) = default;
};

// Ok if `pages` may be written to `limit` of a node of `kind`; otherwise invalid_argument
// saying why.
[[nodiscard]] Status validate_limit(NodeKind kind, Limit limit, uint64_t pages);

// Bytes to pages for a limit: UINT64_MAX (the API's "max") is kUnlimited; any other amount
// must be a whole number of pages (invalid_argument otherwise, naming the nearest ones).
[[nodiscard]] Result<uint64_t> limit_pages_from_bytes(uint64_t bytes);
// Pages to bytes: kUnlimited is UINT64_MAX, any other amount pages * 4096.
[[nodiscard]] uint64_t limit_bytes_from_pages(uint64_t pages);

// A cgroup-v2 style value: "max", or a byte count with an optional binary suffix K, M, G,
// T (either case; "512M", "1073741824"). Must be a whole number of pages. Whitespace
// around the value is ignored (a file write ends in a newline).
[[nodiscard]] Result<uint64_t> parse_limit(std::string_view text);
// "max" for kUnlimited, else the byte count in decimal (what memory.max reads back).
[[nodiscard]] std::string format_limit(uint64_t pages);

}  // namespace tide::gmm::memcg
