// VirtioPciDevice: the virtio-pci modern transport (VIRTIO 1.2, 4.1) for one PCI function:
// finds the common/notify/ISR/device structures through the vendor capabilities, sets up
// their BARs, resets and initialises the device (ACKNOWLEDGE, DRIVER, features with
// VIRTIO_F_VERSION_1 required, FEATURES_OK), sets up split virtqueues, and routes MSI-X
// entries to IDT vectors whose deliveries it counts. Drivers never depend on interrupts:
// they poll used rings, so a lost interrupt costs latency only. Boot CPU only.
#pragma once

#include <cstdint>

#include "dev/pci.hpp"
#include "virtio/virtqueue.hpp"

namespace tg::virtio {

class VirtioPciDevice {
 public:
  static constexpr unsigned kMaxQueues = 8;
  static constexpr unsigned kMaxMsixEntries = 1 + kMaxQueues;

  // Finds the capabilities, sets up their BARs, enables decoding and bus mastering and
  // resets the device. False (with *error) when the function is not virtio-pci modern.
  bool attach(const dev::PciFunction& f, const char** error);
  // ACKNOWLEDGE, DRIVER, then features: VIRTIO_F_VERSION_1 plus those of `wanted` the
  // device offers (returned in *accepted); FEATURES_OK, verified. Sets FAILED on error.
  bool negotiate(uint64_t wanted, uint64_t* accepted, const char** error);
  // Enables MSI-X with `entries` table entries (entry 0: configuration changes, entry
  // 1 + q: queue q), each on a fresh IDT vector aimed at this CPU's LAPIC. Returns the
  // number of entries programmed (0: no MSI-X; the driver then just polls). Called again
  // (after a device reset) it keeps the table and vectors and only re-assigns entry 0 to
  // configuration changes, which the reset cleared.
  unsigned setup_msix(unsigned entries);
  // Sets up queue `index` with at most `max_size` entries (the device's size, capped),
  // using MSI-X entry `msix_entry` (default 1 + index) when setup_msix covered it.
  static constexpr int kDefaultMsixEntry = -1;
  bool setup_queue(uint16_t index, Virtqueue& queue, uint16_t max_size, const char** error,
                   int msix_entry = kDefaultMsixEntry);
  // Features the device offered at the last negotiate().
  uint64_t offered_features() const { return offered_; }
  // The device's maximum size of queue `index` (0: no such queue).
  uint16_t queue_max_size(uint16_t index) const;
  void driver_ok();
  // Tells the device queue `index` has new buffers.
  void notify(uint16_t index);
  void reset();
  void fail();
  uint8_t status() const;

  // MSI-X deliveries counted for this device since attach.
  uint64_t interrupt_count() const { return interrupts_; }
  unsigned msix_entries() const { return msix_entries_; }
  uint8_t msix_vector(unsigned entry) const { return vectors_[entry]; }
  uint64_t device_config() const { return device_; }
  const dev::PciFunction* function() const { return function_; }

 private:
  static void on_interrupt(void* context);
  uint8_t read8(uint16_t offset) const;
  uint16_t read16(uint16_t offset) const;
  uint32_t read32(uint16_t offset) const;
  void write8(uint16_t offset, uint8_t value) const;
  void write16(uint16_t offset, uint16_t value) const;
  void write32(uint16_t offset, uint32_t value) const;
  void write64(uint16_t offset, uint64_t value) const;

  const dev::PciFunction* function_ = nullptr;
  uint64_t common_ = 0;
  uint64_t notify_ = 0;
  uint32_t notify_multiplier_ = 0;
  uint64_t isr_ = 0;
  uint64_t device_ = 0;
  uint16_t queue_notify_off_[kMaxQueues] = {};
  uint8_t vectors_[kMaxMsixEntries] = {};
  unsigned msix_entries_ = 0;
  uint64_t offered_ = 0;
  volatile uint64_t interrupts_ = 0;
};

// Whether `f` is a virtio device of type `virtio_id` (modern id 0x1040 + type, or a
// transitional id with the type in the subsystem id).
bool is_virtio_device(const dev::PciFunction& f, uint16_t virtio_id);

}  // namespace tg::virtio
