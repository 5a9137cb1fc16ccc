// Unit: GuestMemory — the checked accessor: bounds, overflow, region boundaries, atomics.
#include <gtest/gtest.h>

#include <vector>

#include "guestmm/guest_memory.hpp"

namespace tide::gmm {
namespace {

class GuestMemoryTest : public ::testing::Test {
 protected:
  std::vector<std::byte> low_ = std::vector<std::byte>(0x10000);
  std::vector<std::byte> high_ = std::vector<std::byte>(0x1000);
  GuestMemory mem_{{MemoryRegion{Gpa(0x100000000), high_.size(), high_.data()},
                    MemoryRegion{Gpa(0), low_.size(), low_.data()}}};
};

TEST_F(GuestMemoryTest, ReadWriteInsideRegions) {
  ASSERT_TRUE(mem_.write_obj<uint32_t>(Gpa(0x100), 0xdeadbeef));
  EXPECT_EQ(*mem_.read_obj<uint32_t>(Gpa(0x100)), 0xdeadbeefu);
  ASSERT_TRUE(mem_.write_obj<uint64_t>(Gpa(0x100000ff8), 7));
  EXPECT_EQ(*mem_.read_obj<uint64_t>(Gpa(0x100000ff8)), 7u);
  EXPECT_EQ(mem_.total_bytes(), 0x11000u);
}

TEST_F(GuestMemoryTest, RejectsOutOfRangeAndOverflow) {
  EXPECT_FALSE(mem_.read_obj<uint32_t>(Gpa(0xfffe)));          // straddles the end
  EXPECT_FALSE(mem_.read_obj<uint32_t>(Gpa(0x10000)));         // just past the end
  EXPECT_FALSE(mem_.read_obj<uint8_t>(Gpa(0x80000000)));       // in the hole
  EXPECT_FALSE(mem_.read_obj<uint64_t>(Gpa(~uint64_t{0} - 3)));  // address wraps
  EXPECT_FALSE(mem_.host_range(Gpa(0x10), ~uint64_t{0}));      // length wraps
  EXPECT_FALSE(mem_.contains(Gpa(0xff00), 0x200));
  EXPECT_TRUE(mem_.contains(Gpa(0xff00), 0x100));
  std::vector<std::byte> big(0x20000);
  EXPECT_FALSE(mem_.read(Gpa(0), big));  // larger than the region
}

TEST_F(GuestMemoryTest, AtomicsNeedAlignmentAndRam) {
  ASSERT_TRUE(mem_.store_release_u16(Gpa(0x200), 0x1234));
  EXPECT_EQ(*mem_.load_acquire_u16(Gpa(0x200)), 0x1234);
  EXPECT_FALSE(mem_.load_acquire_u16(Gpa(0x201)));
  EXPECT_FALSE(mem_.store_release_u16(Gpa(0x10000), 1));
}

}  // namespace
}  // namespace tide::gmm
