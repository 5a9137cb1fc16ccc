// Uart8250: an 8250/16550A UART register model (National Semiconductor PC16550D data
// sheet) for COM1: 8 ports at 0x3F8, IRQ 4. Locking: one mutex guards all registers and
// the input queue; the sink and set_irq_line() are called with it held (they must not
// call back into the UART).
//
// Output bytes go to a sink at once (the transmitter is always empty: LSR.THRE and
// LSR.TEMT stay set); input bytes queue up from the VMM (bounded; overflow sets LSR.OE)
// and are read through RBR with LSR.DR. The interrupt line follows IER: receive data
// available, THR empty, receiver line status (overrun); no modem status interrupts. It is
// driven as a level through InterruptController::set_irq_line() on every change, without
// gating on MCR.OUT2 (as QEMU does). Loopback (MCR.LOOP): transmitted bytes return as input and MSR mirrors the
// MCR outputs, which is what Linux's 8250 probe checks; otherwise MSR reports
// DCD|DSR|CTS. FIFO trigger levels and the divisor have no effect (stored only).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

#include "devices/bus.hpp"
#include "devices/interrupts.hpp"

namespace tide::dev {

// Register offsets and bits (PC16550D data sheet, table II and §8).
inline constexpr uint8_t kUartRbrThr = 0;  // DLL when LCR.DLAB
inline constexpr uint8_t kUartIer = 1;     // DLM when LCR.DLAB
inline constexpr uint8_t kUartIirFcr = 2;
inline constexpr uint8_t kUartLcr = 3;
inline constexpr uint8_t kUartMcr = 4;
inline constexpr uint8_t kUartLsr = 5;
inline constexpr uint8_t kUartMsr = 6;
inline constexpr uint8_t kUartScr = 7;

inline constexpr uint8_t kUartIerRda = 0x01;   // ERBFI: received data available
inline constexpr uint8_t kUartIerThre = 0x02;  // ETBEI: THR empty
inline constexpr uint8_t kUartIerRls = 0x04;   // ELSI: receiver line status
inline constexpr uint8_t kUartIerMs = 0x08;    // EDSSI: modem status (never raised here)
inline constexpr uint8_t kUartIirNone = 0x01;
inline constexpr uint8_t kUartIirRls = 0x06;
inline constexpr uint8_t kUartIirRda = 0x04;
inline constexpr uint8_t kUartIirThre = 0x02;
inline constexpr uint8_t kUartIirFifos = 0xc0;
inline constexpr uint8_t kUartFcrEnable = 0x01;
inline constexpr uint8_t kUartFcrClearRx = 0x02;
inline constexpr uint8_t kUartLcrDlab = 0x80;
inline constexpr uint8_t kUartMcrLoop = 0x10;
inline constexpr uint8_t kUartLsrDr = 0x01;
inline constexpr uint8_t kUartLsrOe = 0x02;
inline constexpr uint8_t kUartLsrThre = 0x20;
inline constexpr uint8_t kUartLsrTemt = 0x40;
inline constexpr uint8_t kUartMsrCts = 0x10;
inline constexpr uint8_t kUartMsrDsr = 0x20;
inline constexpr uint8_t kUartMsrDcd = 0x80;

class Uart8250 final : public BusDevice {
 public:
  static constexpr uint64_t kCom1Base = 0x3f8;
  static constexpr uint64_t kLength = 8;
  static constexpr uint32_t kCom1Irq = 4;
  static constexpr size_t kInputCapacity = 4096;
  static constexpr uint16_t kDefaultDivisor = 12;  // 9600 baud from 1.8432 MHz

  // Receives each transmitted byte. Called on the vCPU thread that wrote THR.
  using OutputSink = std::function<void(std::span<const uint8_t> bytes)>;

  Uart8250(InterruptController& interrupts, OutputSink sink, uint32_t gsi = kCom1Irq);

  // Port accesses relative to the base. Each byte of a wider access is its own register
  // access (as QEMU splits them). Thread: vCPU.
  void read(uint64_t base, uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t base, uint64_t offset, std::span<const uint8_t> data) override;

  // Queues console input for the guest; bytes beyond kInputCapacity are dropped (counted,
  // LSR.OE set). Thread: any.
  void enqueue_input(std::span<const uint8_t> bytes);

  // Metrics. Thread: any.
  [[nodiscard]] uint64_t bytes_out() const { return bytes_out_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t input_dropped() const { return input_dropped_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint16_t divisor() const;

 private:
  [[nodiscard]] uint8_t read_register_locked(uint8_t reg);
  void write_register_locked(uint8_t reg, uint8_t value);
  void receive_locked(uint8_t byte);
  [[nodiscard]] uint8_t iir_locked() const;
  void update_irq_locked();

  InterruptController& interrupts_;
  const OutputSink sink_;
  const uint32_t gsi_;

  mutable std::mutex mutex_;
  uint8_t ier_ = 0;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t scr_ = 0;
  uint8_t dll_ = kDefaultDivisor & 0xff;
  uint8_t dlm_ = kDefaultDivisor >> 8;
  bool fifo_enabled_ = false;
  bool thr_pending_ = false;  // THR-empty interrupt armed (cleared by reading it in IIR)
  bool overrun_ = false;      // LSR.OE, cleared by reading LSR
  bool irq_level_ = false;
  std::deque<uint8_t> input_;

  std::atomic<uint64_t> bytes_out_{0};
  std::atomic<uint64_t> input_dropped_{0};
};

}  // namespace tide::dev
