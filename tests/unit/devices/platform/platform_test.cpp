// The debug-exit and wait ports, dispatched through a PIO bus at their machine.md ports.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "devices/bus.hpp"
#include "devices/le_bytes.hpp"
#include "devices/platform/debug_exit.hpp"
#include "devices/platform/wait_port.hpp"

namespace tide::dev {
namespace {

class PlatformTest : public ::testing::Test {
 protected:
  Bus pio;
  std::vector<uint32_t> exits;
  std::vector<uint32_t> waits;

  void SetUp() override {
    ASSERT_TRUE(pio.insert(DebugExit::kBase, DebugExit::kLength,
                           std::make_shared<DebugExit>([this](uint32_t s) { exits.push_back(s); })));
    ASSERT_TRUE(pio.insert(WaitPort::kBase, WaitPort::kLength,
                           std::make_shared<WaitPort>([this](uint32_t us) { waits.push_back(us); })));
  }
  bool out(uint64_t port, uint64_t value, size_t width) {
    std::array<uint8_t, 8> b{};
    store_le(std::span(b).first(width), value);
    return pio.write(port, std::span(b).first(width));
  }
  uint64_t in(uint64_t port, size_t width) {
    std::array<uint8_t, 8> b{};
    pio.read(port, std::span(b).first(width));
    return load_le(std::span(b).first(width));
  }
};

TEST_F(PlatformTest, DebugExitReportsTheWrittenValue) {
  EXPECT_TRUE(out(0x501, 3, 1));
  EXPECT_TRUE(out(0x501, 0x1234, 2));
  EXPECT_EQ(exits, (std::vector<uint32_t>{3, 0x1234}));
}

TEST_F(PlatformTest, DebugExitIgnoresItsSecondPortAndReadsZero) {
  EXPECT_TRUE(out(0x502, 7, 1));
  EXPECT_TRUE(exits.empty());
  EXPECT_EQ(in(0x501, 1), 0u);
  EXPECT_FALSE(out(0x501, 1, 4));  // would run past the 2-port range: not the device's
  EXPECT_TRUE(exits.empty());
}

TEST_F(PlatformTest, WaitPortIdentifiesTide) {
  EXPECT_EQ(in(0x504, 4), WaitPort::kSignature);
  EXPECT_EQ(in(0x504, 4), 0x45444954u);
  EXPECT_EQ(in(0x504, 1), uint64_t{'T'});
  EXPECT_EQ(in(0x507, 1), uint64_t{'E'});
  EXPECT_EQ(in(0x505, 2), 0x4449u);  // "ID"
}

TEST_F(PlatformTest, WaitPortForwardsTheTimeout) {
  EXPECT_TRUE(out(0x504, 1000, 4));
  EXPECT_TRUE(out(0x504, 0, 4));
  EXPECT_TRUE(out(0x504, 5, 1));
  EXPECT_TRUE(out(0x504, 0xffffffff, 4));
  EXPECT_EQ(waits, (std::vector<uint32_t>{1000, 0, 5, 0xffffffff}));
  EXPECT_TRUE(exits.empty());
}

}  // namespace
}  // namespace tide::dev
