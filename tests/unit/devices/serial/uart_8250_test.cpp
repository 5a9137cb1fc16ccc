// The 8250 UART register model: data path, divisor latch, line/modem status, interrupts.
#include "devices/serial/uart_8250.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "unit/devices/fake_interrupts.hpp"

namespace tide::dev {
namespace {

using test::FakeInterruptController;

class UartTest : public ::testing::Test {
 protected:
  FakeInterruptController irq;
  std::string out;
  Bus pio;
  std::shared_ptr<Uart8250> uart =
      std::make_shared<Uart8250>(irq, [this](std::span<const uint8_t> b) { out.append(b.begin(), b.end()); });

  void SetUp() override { ASSERT_TRUE(pio.insert(Uart8250::kCom1Base, Uart8250::kLength, uart)); }
  uint8_t in(uint8_t reg) {
    uint8_t v = 0;
    pio.read(Uart8250::kCom1Base + reg, std::span(&v, 1));
    return v;
  }
  void outb(uint8_t reg, uint8_t v) { pio.write(Uart8250::kCom1Base + reg, std::span<const uint8_t>(&v, 1)); }
  void input(const std::string& s) {
    uart->enqueue_input(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  bool line() { return irq.line_level(Uart8250::kCom1Irq); }
};

TEST_F(UartTest, TransmitsToTheSink) {
  for (char c : std::string("hi\n")) outb(kUartRbrThr, static_cast<uint8_t>(c));
  EXPECT_EQ(out, "hi\n");
  EXPECT_EQ(uart->bytes_out(), 3u);
  EXPECT_EQ(in(kUartLsr), kUartLsrThre | kUartLsrTemt);  // the transmitter is always empty
}

TEST_F(UartTest, ReceivesQueuedInputInOrder) {
  EXPECT_EQ(in(kUartLsr)&kUartLsrDr, 0);
  input("ok");
  EXPECT_EQ(in(kUartLsr), kUartLsrDr | kUartLsrThre | kUartLsrTemt);
  EXPECT_EQ(in(kUartRbrThr), 'o');
  EXPECT_NE(in(kUartLsr)&kUartLsrDr, 0);
  EXPECT_EQ(in(kUartRbrThr), 'k');
  EXPECT_EQ(in(kUartLsr)&kUartLsrDr, 0);
  EXPECT_EQ(in(kUartRbrThr), 0);  // nothing left
}

TEST_F(UartTest, DivisorLatchSharesTheFirstTwoPorts) {
  EXPECT_EQ(uart->divisor(), Uart8250::kDefaultDivisor);
  outb(kUartIer, 0x05);
  outb(kUartLcr, kUartLcrDlab | 0x03);
  EXPECT_EQ(in(kUartRbrThr), 12);  // DLL
  EXPECT_EQ(in(kUartIer), 0);      // DLM
  outb(kUartRbrThr, 0x01);         // DLL, not THR: nothing transmitted
  outb(kUartIer, 0x00);
  EXPECT_EQ(uart->divisor(), 1);
  EXPECT_TRUE(out.empty());
  outb(kUartLcr, 0x03);
  EXPECT_EQ(in(kUartLcr), 0x03);
  EXPECT_EQ(in(kUartIer), 0x05);  // IER untouched by the DLM write
}

TEST_F(UartTest, ScratchModemControlAndIerBits) {
  outb(kUartScr, 0x5a);
  EXPECT_EQ(in(kUartScr), 0x5a);
  outb(kUartIer, 0xff);
  EXPECT_EQ(in(kUartIer), 0x0f);
  outb(kUartMcr, 0xff);
  EXPECT_EQ(in(kUartMcr), 0x1f);
  outb(kUartMcr, 0x0b);
  EXPECT_EQ(in(kUartMsr), kUartMsrDcd | kUartMsrDsr | kUartMsrCts);
}

TEST_F(UartTest, IirReportsNoInterruptAndFifoState) {
  EXPECT_EQ(in(kUartIirFcr), kUartIirNone);
  outb(kUartIirFcr, kUartFcrEnable);
  EXPECT_EQ(in(kUartIirFcr), kUartIirFifos | kUartIirNone);
}

TEST_F(UartTest, ReceiveInterruptFollowsIerAndData) {
  input("x");
  EXPECT_FALSE(line());  // IER off
  outb(kUartIer, kUartIerRda);
  EXPECT_TRUE(line());
  EXPECT_EQ(in(kUartIirFcr), kUartIirRda);
  EXPECT_EQ(in(kUartRbrThr), 'x');
  EXPECT_FALSE(line());
  EXPECT_EQ(in(kUartIirFcr), kUartIirNone);
  input("y");  // input arriving from another thread raises it again
  EXPECT_TRUE(line());
  outb(kUartIer, 0);
  EXPECT_FALSE(line());
}

TEST_F(UartTest, ThrEmptyInterruptIsAcknowledgedByReadingIir) {
  outb(kUartIer, kUartIerThre);  // enabling it with THR empty raises it
  EXPECT_TRUE(line());
  EXPECT_EQ(in(kUartIirFcr), kUartIirThre);
  EXPECT_FALSE(line());
  EXPECT_EQ(in(kUartIirFcr), kUartIirNone);
  outb(kUartRbrThr, 'a');  // the byte leaves at once: THR empty again
  EXPECT_TRUE(line());
  outb(kUartIer, 0);
  EXPECT_FALSE(line());
  // The line only moves on changes: exactly two rising and two falling edges.
  auto events = irq.line_events();
  ASSERT_EQ(events.size(), 4u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].first, Uart8250::kCom1Irq);
    EXPECT_EQ(events[i].second, i % 2 == 0);
  }
}

TEST_F(UartTest, ReceivedDataOutranksThrEmpty) {
  input("z");
  outb(kUartIer, kUartIerRda | kUartIerThre);
  EXPECT_EQ(in(kUartIirFcr), kUartIirRda);
  EXPECT_EQ(in(kUartRbrThr), 'z');
  EXPECT_EQ(in(kUartIirFcr), kUartIirThre);
  EXPECT_FALSE(line());
}

TEST_F(UartTest, OverrunSetsOeAndRaisesLineStatus) {
  outb(kUartIer, kUartIerRls);
  input(std::string(Uart8250::kInputCapacity + 3, 'a'));
  EXPECT_EQ(uart->input_dropped(), 3u);
  EXPECT_TRUE(line());
  EXPECT_EQ(in(kUartIirFcr), kUartIirRls);
  EXPECT_EQ(in(kUartLsr)&kUartLsrOe, kUartLsrOe);
  EXPECT_EQ(in(kUartLsr)&kUartLsrOe, 0);  // cleared by the read
  EXPECT_FALSE(line());
}

TEST_F(UartTest, FifoResetDropsPendingInput) {
  input("abc");
  outb(kUartIirFcr, kUartFcrEnable | kUartFcrClearRx);
  EXPECT_EQ(in(kUartLsr)&kUartLsrDr, 0);
}

TEST_F(UartTest, LoopbackReturnsBytesAndMirrorsModemLines) {
  outb(kUartMcr, kUartMcrLoop | 0x0a);  // what Linux's 8250 probe writes
  EXPECT_EQ(in(kUartMsr)&0xf0, 0x90);
  outb(kUartMcr, kUartMcrLoop | 0x05);  // DTR, OUT1 -> DSR, RI
  EXPECT_EQ(in(kUartMsr)&0xf0, 0x60);
  outb(kUartRbrThr, 'L');
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(in(kUartLsr)&kUartLsrDr, kUartLsrDr);
  EXPECT_EQ(in(kUartRbrThr), 'L');
}

TEST_F(UartTest, WideAccessesAreSplitIntoRegisters) {
  outb(kUartIer, 0x03);
  input("q");
  std::array<uint8_t, 2> two{};
  pio.read(Uart8250::kCom1Base, two);  // RBR, then IER
  EXPECT_EQ(two[0], 'q');
  EXPECT_EQ(two[1], 0x03);
}

TEST_F(UartTest, OtherGsi) {
  FakeInterruptController other;
  Uart8250 com2(other, nullptr, 3);
  uint8_t ier = kUartIerThre;
  com2.write(0x2f8, kUartIer, std::span<const uint8_t>(&ier, 1));
  EXPECT_TRUE(other.line_level(3));
  EXPECT_FALSE(other.line_level(4));
}

TEST_F(UartTest, InputFromAnotherThread) {
  constexpr int kBytes = 2000;
  std::thread producer([this] {
    for (int i = 0; i < kBytes; ++i) {
      auto b = static_cast<uint8_t>(i);
      uart->enqueue_input(std::span(&b, 1));
    }
  });
  std::vector<uint8_t> got;
  while (got.size() < kBytes) {
    if (in(kUartLsr)&kUartLsrDr) got.push_back(in(kUartRbrThr));
  }
  producer.join();
  for (int i = 0; i < kBytes; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], static_cast<uint8_t>(i));
}

}  // namespace
}  // namespace tide::dev
