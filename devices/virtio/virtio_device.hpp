// VirtioDevice: the transport-independent core of a virtio device (virtio-v1.2 §2-§3):
// its type, the feature bits it offers, its queues, its config space and its lifecycle
// (activate on DRIVER_OK, reset). A transport (VirtioPciDevice) owns the register file,
// the queues and the interrupts, and drives the device through this interface.
//
// Threads: config reads/writes, activate() and reset() come from vCPU threads (through
// the transport); queue_notified() from the VMM event thread (doorbells) or a vCPU
// (notify writes that reach the transport as MMIO). An implementation guards its state
// with one mutex of its own; the transport never holds its interrupt lock when calling in.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "devices/virtio/queue.hpp"
#include "guestmm/base/error.hpp"
#include "guestmm/guest_memory.hpp"

namespace tide::dev {

// The device's way to interrupt the driver; the transport implements it.
class VirtioInterrupt {
 public:
  virtual ~VirtioInterrupt() = default;
  // Used buffers are waiting in queue `index`. Thread: any; never blocks.
  virtual void notify_queue(uint16_t index) = 0;
  // The device changed its config space (bumps config_generation). Thread: any.
  virtual void notify_config() = 0;
  // The device met an error it cannot get out of without a reset (a queue the driver
  // broke): the transport sets DEVICE_NEEDS_RESET and raises a config interrupt
  // (virtio-v1.2 §2.1.2). Thread: any; never blocks.
  virtual void needs_reset() {}
};

// What a device gets on DRIVER_OK. Everything stays valid until reset() returns.
struct VirtioActivation {
  const gmm::GuestMemory* memory = nullptr;
  std::vector<Queue*> queues;  // index = queue index; a queue the driver did not enable is !ready()
  uint64_t driver_features = 0;
  VirtioInterrupt* interrupt = nullptr;
};

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  // §5 device ID (VIRTIO_ID_*).
  [[nodiscard]] virtual uint32_t device_type() const = 0;
  // Device-specific feature bits the device offers. The transport adds the ones it
  // implements itself (VIRTIO_F_VERSION_1, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX).
  [[nodiscard]] virtual uint64_t device_features() const = 0;
  [[nodiscard]] virtual uint16_t num_queues() const = 0;
  // Power of two <= 32768.
  [[nodiscard]] virtual uint16_t queue_max_size(uint16_t index) const = 0;

  // Device-specific config space (§4.1.4.6). The transport bounds accesses to
  // [0, config_size()).
  [[nodiscard]] virtual uint32_t config_size() const { return 0; }
  virtual void read_config(uint32_t offset, std::span<uint8_t> data) {
    (void)offset;
    for (uint8_t& b : data) b = 0;
  }
  virtual void write_config(uint32_t offset, std::span<const uint8_t> data) {
    (void)offset;
    (void)data;
  }

  // DRIVER_OK: start using the queues. An error makes the transport set
  // DEVICE_NEEDS_RESET. Thread: vCPU.
  [[nodiscard]] virtual Status activate(const VirtioActivation& activation) = 0;
  // Stop using the queues, memory and interrupt; when it returns the device touches none
  // of them again. Called on a driver reset and on transport teardown, also when not
  // activated. Thread: vCPU or the VMM's control thread.
  virtual void reset() = 0;
  // The driver notified queue `index` (< num_queues()). May come before activation or
  // after reset (ignore it then) and spuriously (look for work; finding none is fine).
  virtual void queue_notified(uint16_t index) = 0;
};

}  // namespace tide::dev
