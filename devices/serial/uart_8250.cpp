#include "devices/serial/uart_8250.hpp"

namespace tide::dev {

Uart8250::Uart8250(InterruptController& interrupts, OutputSink sink, uint32_t gsi)
    : interrupts_(interrupts), sink_(std::move(sink)), gsi_(gsi) {}

void Uart8250::read(uint64_t, uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t reg = offset + i;
    data[i] = reg < kLength ? read_register_locked(static_cast<uint8_t>(reg)) : uint8_t{0xff};
  }
  update_irq_locked();
}

void Uart8250::write(uint64_t, uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t reg = offset + i;
    if (reg < kLength) write_register_locked(static_cast<uint8_t>(reg), data[i]);
  }
  update_irq_locked();
}

void Uart8250::enqueue_input(std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  for (uint8_t b : bytes) receive_locked(b);
  update_irq_locked();
}

uint16_t Uart8250::divisor() const {
  std::lock_guard lock(mutex_);
  return static_cast<uint16_t>(dll_ | (dlm_ << 8));
}

void Uart8250::receive_locked(uint8_t byte) {
  if (input_.size() >= kInputCapacity) {
    input_dropped_.fetch_add(1, std::memory_order_relaxed);
    overrun_ = true;
    return;
  }
  input_.push_back(byte);
}

uint8_t Uart8250::iir_locked() const {
  uint8_t fifo = fifo_enabled_ ? kUartIirFifos : 0;
  // Priority order of the data sheet: line status, received data, THR empty.
  if ((ier_ & kUartIerRls) && overrun_) return kUartIirRls | fifo;
  if ((ier_ & kUartIerRda) && !input_.empty()) return kUartIirRda | fifo;
  if ((ier_ & kUartIerThre) && thr_pending_) return kUartIirThre | fifo;
  return kUartIirNone | fifo;
}

void Uart8250::update_irq_locked() {
  bool level = (iir_locked() & kUartIirNone) == 0;
  if (level == irq_level_) return;
  irq_level_ = level;
  interrupts_.set_irq_line(gsi_, level);
}

uint8_t Uart8250::read_register_locked(uint8_t reg) {
  bool dlab = (lcr_ & kUartLcrDlab) != 0;
  switch (reg) {
    case kUartRbrThr: {
      if (dlab) return dll_;
      if (input_.empty()) return 0;
      uint8_t b = input_.front();
      input_.pop_front();
      return b;
    }
    case kUartIer: return dlab ? dlm_ : ier_;
    case kUartIirFcr: {
      uint8_t iir = iir_locked();
      // Reading IIR acknowledges a THR-empty interrupt it reports (data sheet table IV).
      if ((iir & 0x0f) == kUartIirThre) thr_pending_ = false;
      return iir;
    }
    case kUartLcr: return lcr_;
    case kUartMcr: return mcr_;
    case kUartLsr: {
      uint8_t lsr = kUartLsrThre | kUartLsrTemt;
      if (!input_.empty()) lsr |= kUartLsrDr;
      if (overrun_) lsr |= kUartLsrOe;
      overrun_ = false;  // OE clears on read
      return lsr;
    }
    case kUartMsr:
      if (mcr_ & kUartMcrLoop) {
        // DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        return static_cast<uint8_t>(((mcr_ & 0x01) << 5) | ((mcr_ & 0x02) << 3) | ((mcr_ & 0x0c) << 4));
      }
      return kUartMsrDcd | kUartMsrDsr | kUartMsrCts;
    default: return scr_;
  }
}

void Uart8250::write_register_locked(uint8_t reg, uint8_t value) {
  bool dlab = (lcr_ & kUartLcrDlab) != 0;
  switch (reg) {
    case kUartRbrThr:
      if (dlab) {
        dll_ = value;
        break;
      }
      if (mcr_ & kUartMcrLoop) {
        receive_locked(value);
      } else {
        bytes_out_.fetch_add(1, std::memory_order_relaxed);
        if (sink_) sink_(std::span<const uint8_t>(&value, 1));
      }
      // The byte left at once: THR is empty again.
      thr_pending_ = true;
      break;
    case kUartIer: {
      if (dlab) {
        dlm_ = value;
        break;
      }
      uint8_t changed = static_cast<uint8_t>((ier_ ^ value) & 0x0f);
      ier_ = value & 0x0f;
      // Enabling ETBEI while THR is empty raises the interrupt (as 16550s and QEMU do).
      if (changed & kUartIerThre) thr_pending_ = (ier_ & kUartIerThre) != 0;
      break;
    }
    case kUartIirFcr:
      fifo_enabled_ = (value & kUartFcrEnable) != 0;
      if (value & kUartFcrClearRx) input_.clear();
      break;
    case kUartLcr: lcr_ = value; break;
    case kUartMcr: mcr_ = value & 0x1f; break;
    case kUartLsr:
    case kUartMsr: break;  // read-only (factory test registers on real parts)
    default: scr_ = value; break;
  }
}

}  // namespace tide::dev
