// 8250 UART console output (see serial.hpp).
#include "dev/serial.hpp"

#include <cstdint>

#include "arch/x86.hpp"

namespace tg::dev {
namespace {

constexpr uint16_t kCom1 = 0x3f8;
// 8250/16550 register offsets and bits (PC16550D data sheet).
constexpr uint16_t UART_THR = 0;
constexpr uint16_t UART_IER = 1;
constexpr uint16_t UART_IIR = 2;  // read
constexpr uint16_t UART_FCR = 2;  // write
constexpr uint16_t UART_LCR = 3;
constexpr uint16_t UART_LSR = 5;
constexpr uint8_t UART_LCR_WLEN8 = 0x03;
constexpr uint8_t UART_FCR_ENABLE_CLEAR = 0x07;
constexpr uint8_t UART_LSR_THRE = 0x20;
constexpr uint8_t UART_LSR_DR = 0x01;
constexpr uint16_t UART_RBR = 0;
constexpr uint8_t UART_IIR_FIFO_ENABLED = 0xc0;  // 16550A: both bits set with FIFOs on
constexpr int kFifoDepth = 16;
// A missing UART reads 0xff forever; give up waiting after this many polls.
constexpr int kMaxThrePolls = 100000;

// Bytes that may still be written before LSR must be polled again. THRE means "holding
// register empty" on an 8250 (room for 1 byte) and "transmit FIFO empty" on a 16550A with
// FIFOs on (room for 16). Each port access is a VM exit (~25 us to a user-space VMM on
// PVM), so the FIFO halves the cost of console output.
int g_room = 0;
int g_room_after_thre = 1;

}  // namespace

void serial_init() {
  arch::outb(kCom1 + UART_IER, 0);
  arch::outb(kCom1 + UART_LCR, UART_LCR_WLEN8);
  arch::outb(kCom1 + UART_FCR, UART_FCR_ENABLE_CLEAR);
  bool fifo = (arch::inb(kCom1 + UART_IIR) & UART_IIR_FIFO_ENABLED) == UART_IIR_FIFO_ENABLED;
  g_room_after_thre = fifo ? kFifoDepth : 1;
}

void serial_putc(char c) {
  if (g_room == 0) {
    for (int i = 0; i < kMaxThrePolls; ++i) {
      if (arch::inb(kCom1 + UART_LSR) & UART_LSR_THRE) break;
      arch::pause();
    }
    g_room = g_room_after_thre;
  }
  arch::outb(kCom1 + UART_THR, static_cast<uint8_t>(c));
  --g_room;
}

bool serial_try_getc(char* out) {
  if ((arch::inb(kCom1 + UART_LSR) & UART_LSR_DR) == 0) return false;
  *out = static_cast<char>(arch::inb(kCom1 + UART_RBR));
  return true;
}

void serial_write(const char* text, size_t length) {
  for (size_t i = 0; i < length; ++i) serial_putc(text[i]);
}

}  // namespace tg::dev
