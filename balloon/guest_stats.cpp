#include "balloon/guest_stats.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace tide::balloon {

StatsParseResult parse_stats(std::span<const std::byte> bytes, GuestStats& out) {
  StatsParseResult r;
  uint64_t whole = bytes.size() / kStatEntryBytes;
  r.partial_entries = bytes.size() % kStatEntryBytes != 0 ? 1 : 0;
  uint64_t take = std::min(whole, kMaxStatsEntries);
  r.skipped_entries = whole - take;
  for (uint64_t i = 0; i < take; ++i) {
    const std::byte* entry = bytes.data() + i * kStatEntryBytes;
    uint16_t tag = 0;
    uint64_t value = 0;
    std::memcpy(&tag, entry, sizeof(tag));  // le16 and le64 are the host's order on x86
    std::memcpy(&value, entry + sizeof(tag), sizeof(value));
    ++r.entries;
    if (tag >= VIRTIO_BALLOON_S_NR) {
      ++r.unknown_tags;
      continue;
    }
    out.set(tag, value);
  }
  return r;
}

StatsParseResult parse_stats_chain(const gmm::GuestMemory& memory, const dev::DescriptorChain& chain,
                                   GuestStats& out) {
  // Gather at most one entry past the bound, so the result still tells "more entries"
  // apart from "a partial entry" without copying a hostile 4 GiB chain.
  const uint64_t cap = (kMaxStatsEntries + 1) * kStatEntryBytes;
  uint64_t total = chain.readable_bytes();
  std::vector<std::byte> bytes(static_cast<size_t>(std::min(total, cap)));
  uint64_t at = 0;
  for (const dev::GuestBuffer& buffer : chain.readable) {
    if (at >= bytes.size()) break;
    uint64_t n = std::min<uint64_t>(buffer.len, bytes.size() - at);
    if (!memory.read(buffer.addr, std::span(bytes).subspan(static_cast<size_t>(at), static_cast<size_t>(n)))) {
      StatsParseResult r;
      r.unreadable = true;
      return r;
    }
    at += n;
  }
  StatsParseResult r = parse_stats(bytes, out);
  if (total > cap) {
    // What the bound left unread: whole entries and, possibly, a partial one.
    uint64_t whole = total / kStatEntryBytes;
    r.skipped_entries = whole - r.entries;
    r.partial_entries = total % kStatEntryBytes != 0 ? 1 : 0;
  }
  return r;
}

}  // namespace tide::balloon
