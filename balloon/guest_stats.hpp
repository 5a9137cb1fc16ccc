// GuestStats: the memory statistics a guest driver sends on the statsq (virtio-v1.2
// §5.5.6.3), and the pure parser of a stats buffer: an array of packed 10-byte
// `struct virtio_balloon_stat { le16 tag; le64 val; }` entries, in any order, any subset.
// Unknown tags are ignored (the spec's rule) and counted; trailing bytes that do not make
// a whole entry are counted as one partial entry. A later entry with the same tag wins.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "balloon/balloon_spec.hpp"
#include "devices/virtio/queue.hpp"
#include "guestmm/guest_memory.hpp"

namespace tide::balloon {

struct GuestStats {
  std::array<uint64_t, VIRTIO_BALLOON_S_NR> values{};  // indexed by VIRTIO_BALLOON_S_* tag
  uint32_t present = 0;                                 // bit `tag` set: the driver sent it
  uint64_t updated_ns = 0;                              // the device clock when the buffer arrived
  uint64_t sequence = 0;                                // 1 for the first buffer, +1 for each next

  [[nodiscard]] std::optional<uint64_t> get(uint16_t tag) const {
    if (tag >= VIRTIO_BALLOON_S_NR || ((present >> tag) & 1u) == 0) return std::nullopt;
    return values[tag];
  }
  void set(uint16_t tag, uint64_t value) {
    values[tag] = value;
    present |= uint32_t{1} << tag;
  }
  // Bytes free for new work: VIRTIO_BALLOON_S_AVAIL if sent, else MEMFREE.
  [[nodiscard]] std::optional<uint64_t> available_bytes() const {
    if (auto a = get(VIRTIO_BALLOON_S_AVAIL)) return a;
    return get(VIRTIO_BALLOON_S_MEMFREE);
  }
};

struct StatsParseResult {
  uint64_t entries = 0;        // whole entries read
  uint64_t unknown_tags = 0;   // entries with a tag >= VIRTIO_BALLOON_S_NR (ignored)
  uint64_t partial_entries = 0;  // 1 if trailing bytes did not make a whole entry
  uint64_t skipped_entries = 0;  // whole entries past the parser's bound (not read)
  bool unreadable = false;     // a read failed (cannot happen for a chain the queue checked)
};

// At most this many entries are read from one buffer; Linux sends 10.
inline constexpr uint64_t kMaxStatsEntries = 256;

// Parses `bytes` (a whole stats buffer) into `out` (values and `present`; the caller sets
// the time and sequence). Pure.
StatsParseResult parse_stats(std::span<const std::byte> bytes, GuestStats& out);
// Reads the device-readable buffers of `chain` as one byte stream and parses it.
// Device-writable buffers are not read. Thread: any.
StatsParseResult parse_stats_chain(const gmm::GuestMemory& memory, const dev::DescriptorChain& chain,
                                   GuestStats& out);

}  // namespace tide::balloon
