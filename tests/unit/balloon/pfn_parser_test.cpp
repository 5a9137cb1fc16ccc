// Unit: the PFN parser of inflate/deflate chains — order across buffers, odd lengths,
// device-writable buffers, the per-chain bound, chunking past 256 PFNs.
#include "balloon/pfn_parser.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "unit/devices/fake_guest_memory.hpp"

namespace tide::balloon {
namespace {

using dev::DescriptorChain;
using dev::GuestBuffer;
using dev::test::FakeGuestMemory;

class PfnParserTest : public ::testing::Test {
 protected:
  FakeGuestMemory mem;  // 1 MiB at 0
  void put_pfns(uint64_t gpa, const std::vector<uint32_t>& pfns) {
    for (size_t i = 0; i < pfns.size(); ++i) mem.put<uint32_t>(gpa + 4 * i, pfns[i]);
  }
  std::vector<uint32_t> parse(const DescriptorChain& chain, uint64_t max, PfnChainSummary* summary = nullptr) {
    std::vector<uint32_t> out;
    PfnChainSummary s = for_each_pfn(mem.memory(), chain, max, [&](uint32_t pfn) { out.push_back(pfn); });
    if (summary) *summary = s;
    return out;
  }
};

TEST_F(PfnParserTest, ReadsEveryReadableBufferInOrder) {
  put_pfns(0x1000, {10, 11, 12});
  put_pfns(0x2000, {7, 0xffffffff});
  DescriptorChain chain;
  chain.readable = {GuestBuffer{gmm::Gpa(0x1000), 12}, GuestBuffer{gmm::Gpa(0x2000), 8}};
  PfnChainSummary s;
  EXPECT_EQ(parse(chain, 100, &s), (std::vector<uint32_t>{10, 11, 12, 7, 0xffffffff}));
  EXPECT_EQ(s.pfns, 5u);
  EXPECT_EQ(s.bad_length_buffers, 0u);
  EXPECT_EQ(s.writable_buffers, 0u);
  EXPECT_EQ(s.skipped_pfns, 0u);
  EXPECT_FALSE(s.unreadable);
  EXPECT_EQ(gfn_of_balloon_pfn(0x1234), gmm::Gfn(0x1234));
}

TEST_F(PfnParserTest, TrailingBytesAreIgnoredAndCounted) {
  put_pfns(0x1000, {1, 2, 3});
  DescriptorChain chain;
  chain.readable = {GuestBuffer{gmm::Gpa(0x1000), 11}, GuestBuffer{gmm::Gpa(0x1000), 3}};
  PfnChainSummary s;
  EXPECT_EQ(parse(chain, 100, &s), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(s.bad_length_buffers, 2u);
}

TEST_F(PfnParserTest, WritableBuffersAreCountedNotRead) {
  put_pfns(0x1000, {5});
  DescriptorChain chain;
  chain.readable = {GuestBuffer{gmm::Gpa(0x1000), 4}};
  chain.writable = {GuestBuffer{gmm::Gpa(0x3000), 64}, GuestBuffer{gmm::Gpa(0x4000), 4}};
  PfnChainSummary s;
  EXPECT_EQ(parse(chain, 100, &s), (std::vector<uint32_t>{5}));
  EXPECT_EQ(s.writable_buffers, 2u);
}

TEST_F(PfnParserTest, TheBoundSkipsTheRestAcrossBuffers) {
  std::vector<uint32_t> a, b;
  for (uint32_t i = 0; i < 6; ++i) a.push_back(100 + i);
  for (uint32_t i = 0; i < 5; ++i) b.push_back(200 + i);
  put_pfns(0x1000, a);
  put_pfns(0x2000, b);
  DescriptorChain chain;
  chain.readable = {GuestBuffer{gmm::Gpa(0x1000), 24}, GuestBuffer{gmm::Gpa(0x2000), 20}};
  PfnChainSummary s;
  EXPECT_EQ(parse(chain, 8, &s), (std::vector<uint32_t>{100, 101, 102, 103, 104, 105, 200, 201}));
  EXPECT_EQ(s.pfns, 8u);
  EXPECT_EQ(s.skipped_pfns, 3u);
  EXPECT_EQ(parse(chain, 0, &s).size(), 0u);
  EXPECT_EQ(s.skipped_pfns, 11u);
}

TEST_F(PfnParserTest, LongBuffersAreReadInChunks) {
  std::vector<uint32_t> pfns;
  for (uint32_t i = 0; i < 1000; ++i) pfns.push_back(i * 3);
  put_pfns(0x10000, pfns);
  DescriptorChain chain;
  chain.readable = {GuestBuffer{gmm::Gpa(0x10000), 4000}};
  EXPECT_EQ(parse(chain, 5000), pfns);
}

TEST_F(PfnParserTest, AnEmptyChainHasNoPfns) {
  DescriptorChain chain;
  PfnChainSummary s;
  EXPECT_TRUE(parse(chain, 10, &s).empty());
  EXPECT_EQ(s.pfns, 0u);
}

}  // namespace
}  // namespace tide::balloon
