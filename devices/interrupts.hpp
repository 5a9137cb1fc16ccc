// How devices raise interrupts and wake the guest, independent of KVM. The VMM implements
// these with KVM GSI routing + irqfd (vmm/); tests implement them with counters.
#pragma once

#include <cstdint>
#include <memory>

#include "guestmm/base/error.hpp"

namespace tide::dev {

// An MSI message as the guest programs it into an MSI-X table entry.
struct MsiMessage {
  uint64_t address = 0;
  uint32_t data = 0;
  bool operator==(const MsiMessage&) const = default;
};

// One MSI route to the guest (one MSI-X table entry of one device).
class MsiVector {
 public:
  virtual ~MsiVector() = default;
  // Points the route at a new message. Thread: any (vCPU threads programming the table).
  [[nodiscard]] virtual Status set_message(const MsiMessage& message) = 0;
  // Raises the interrupt once and wakes a vCPU sleeping in the wait port. Thread: any;
  // never blocks.
  virtual void trigger() = 0;
};

class InterruptController {
 public:
  virtual ~InterruptController() = default;
  // A new, unprogrammed MSI route (it delivers nothing until set_message()).
  [[nodiscard]] virtual Result<std::unique_ptr<MsiVector>> allocate_msi() = 0;
  // Drives a legacy interrupt line (IOAPIC/PIC input `gsi`) for ISA devices such as the
  // UART. Thread: any.
  virtual void set_irq_line(uint32_t gsi, bool level) = 0;
  // Work for the guest arrived without an interrupt (for example a used-ring update with
  // no MSI-X vector configured): wake vCPUs sleeping in the wait port. Thread: any.
  virtual void wake_vcpus() = 0;
};

}  // namespace tide::dev
