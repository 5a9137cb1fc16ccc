// Unit: the stats parser — packed 10-byte entries, any order and subset, unknown tags,
// partial entries, repeated tags, the entry bound, chains spanning buffers.
#include "balloon/guest_stats.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "unit/devices/fake_guest_memory.hpp"

namespace tide::balloon {
namespace {

std::vector<std::byte> entries(const std::vector<std::pair<uint16_t, uint64_t>>& list) {
  std::vector<std::byte> out;
  for (auto [tag, value] : list) {
    std::byte e[kStatEntryBytes];
    std::memcpy(e, &tag, 2);
    std::memcpy(e + 2, &value, 8);
    out.insert(out.end(), e, e + kStatEntryBytes);
  }
  return out;
}

TEST(GuestStats, ParsesEntriesInAnyOrder) {
  auto bytes = entries({{VIRTIO_BALLOON_S_MEMTOT, 1000}, {VIRTIO_BALLOON_S_AVAIL, 600}, {VIRTIO_BALLOON_S_SWAP_IN, 3}});
  GuestStats s;
  StatsParseResult r = parse_stats(bytes, s);
  EXPECT_EQ(r.entries, 3u);
  EXPECT_EQ(r.unknown_tags, 0u);
  EXPECT_EQ(r.partial_entries, 0u);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_MEMTOT), 1000u);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_AVAIL), 600u);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_SWAP_IN), 3u);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_MEMFREE), std::nullopt) << "a tag not sent is absent, not 0";
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_NR), std::nullopt);
  EXPECT_EQ(s.available_bytes(), 600u);
}

TEST(GuestStats, AvailableFallsBackToMemFree) {
  GuestStats s;
  (void)parse_stats(entries({{VIRTIO_BALLOON_S_MEMFREE, 77}}), s);
  EXPECT_EQ(s.available_bytes(), 77u);
  GuestStats none;
  EXPECT_EQ(none.available_bytes(), std::nullopt);
}

TEST(GuestStats, UnknownTagsAndPartialEntriesAreCounted) {
  auto bytes = entries({{VIRTIO_BALLOON_S_NR, 5}, {999, 6}, {VIRTIO_BALLOON_S_CACHES, 7}});
  bytes.resize(bytes.size() + 4, std::byte{0xff});
  GuestStats s;
  StatsParseResult r = parse_stats(bytes, s);
  EXPECT_EQ(r.entries, 3u);
  EXPECT_EQ(r.unknown_tags, 2u);
  EXPECT_EQ(r.partial_entries, 1u);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_CACHES), 7u);
  EXPECT_EQ(s.present, 1u << VIRTIO_BALLOON_S_CACHES);
}

TEST(GuestStats, ALaterEntryWins) {
  GuestStats s;
  (void)parse_stats(entries({{VIRTIO_BALLOON_S_AVAIL, 1}, {VIRTIO_BALLOON_S_AVAIL, 2}}), s);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_AVAIL), 2u);
}

TEST(GuestStats, EntriesPastTheBoundAreSkipped) {
  std::vector<std::pair<uint16_t, uint64_t>> list(kMaxStatsEntries + 5, {VIRTIO_BALLOON_S_MINFLT, 1});
  list.back() = {VIRTIO_BALLOON_S_MAJFLT, 9};  // past the bound: not read
  GuestStats s;
  StatsParseResult r = parse_stats(entries(list), s);
  EXPECT_EQ(r.entries, kMaxStatsEntries);
  EXPECT_EQ(r.skipped_entries, 5u);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_MAJFLT), std::nullopt);
}

TEST(GuestStats, AChainIsOneByteStream) {
  dev::test::FakeGuestMemory mem;
  auto bytes = entries({{VIRTIO_BALLOON_S_MEMTOT, 0x1122334455667788}, {VIRTIO_BALLOON_S_AVAIL, 42}});
  // Split the 20 bytes 7 + 13, in the middle of the first entry.
  std::memcpy(mem.bytes(0x1000, 7).data(), bytes.data(), 7);
  std::memcpy(mem.bytes(0x2000, 13).data(), bytes.data() + 7, 13);
  dev::DescriptorChain chain;
  chain.readable = {dev::GuestBuffer{gmm::Gpa(0x1000), 7}, dev::GuestBuffer{gmm::Gpa(0x2000), 13}};
  chain.writable = {dev::GuestBuffer{gmm::Gpa(0x3000), 10}};  // not read
  GuestStats s;
  StatsParseResult r = parse_stats_chain(mem.memory(), chain, s);
  EXPECT_EQ(r.entries, 2u);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_MEMTOT), 0x1122334455667788u);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_AVAIL), 42u);
}

TEST(GuestStats, AHugeChainIsBoundedAndCounted) {
  dev::test::FakeGuestMemory mem;  // zeroes: tag 0 (SWAP_IN) entries
  dev::DescriptorChain chain;
  chain.readable = {dev::GuestBuffer{gmm::Gpa(0), 1u << 19}, dev::GuestBuffer{gmm::Gpa(1u << 19), 3}};
  GuestStats s;
  StatsParseResult r = parse_stats_chain(mem.memory(), chain, s);
  const uint64_t total = (1u << 19) + 3;
  EXPECT_EQ(r.entries, kMaxStatsEntries);
  EXPECT_EQ(r.skipped_entries, total / kStatEntryBytes - kMaxStatsEntries);
  EXPECT_EQ(r.partial_entries, total % kStatEntryBytes != 0 ? 1u : 0u);
  EXPECT_EQ(s.get(VIRTIO_BALLOON_S_SWAP_IN), 0u);
}

}  // namespace
}  // namespace tide::balloon
