// VirtioPciDevice: the virtio-over-PCI modern transport (virtio-v1.2 §4.1) around one
// VirtioDevice. It owns the PCI function (config space with the virtio capabilities and
// MSI-X), the common-config register file with the device status state machine, the
// queues, the doorbells (one per queue, registered with the VMM's DoorbellRegistry) and
// the interrupt path (MSI-X vectors, or ISR + wake_vcpus when none is chosen).
//
// BAR 0: 64-bit prefetchable memory, 0x8000 bytes, one structure per 4 KiB page:
//   0x0000 common config (struct virtio_pci_common_cfg, 0x38 bytes)
//   0x1000 ISR status (1 byte, read-to-clear)
//   0x2000 device-specific config (VirtioDevice::config_size() bytes, <= 0x1000)
//   0x3000 notify: queue N at 0x3000 + 4 * N (notify_off_multiplier 4, queue_notify_off N)
//   0x4000 MSI-X table (num_queues + 1 entries: one per queue, one for config changes)
//   0x5000 MSI-X PBA
//
// Doorbells: each queue's notify address is registered (2-byte writes, no datamatch) when
// the driver enables the queue, if BAR 0 decodes; they move with BAR 0 and go away on a
// reset or when memory decoding is turned off. A notify write that still arrives as MMIO
// (other widths, no ioeventfd) takes the same path. Notifications before DRIVER_OK are
// dropped; on DRIVER_OK every enabled queue is kicked once.
//
// Locking: `mutex_` guards the register file (config space, common config, status,
// queue configuration, doorbells); vCPU threads take it for every register access and hold
// it across VirtioDevice::activate/reset/read_config and doorbell add/remove.
// `irq_mutex_` guards the interrupt state (MSI-X table and PBA, vector numbers, ISR); the
// device's queue handler takes it through notify_queue()/notify_config() from the event
// thread. Order: mutex_ -> device's own lock -> irq_mutex_. Doorbell callbacks take neither
// transport lock, so DoorbellRegistry::remove() may wait for them under mutex_.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "devices/doorbells.hpp"
#include "devices/interrupts.hpp"
#include "devices/pci/msix.hpp"
#include "devices/pci/pci_device.hpp"
#include "devices/virtio/virtio_device.hpp"
#include "devices/virtio/virtio_spec.hpp"

namespace tide::dev {

class VirtioPciDevice final : public PciDevice, public VirtioInterrupt {
 public:
  static constexpr uint64_t kCommonCfgOffset = 0x0000;
  static constexpr uint64_t kIsrOffset = 0x1000;
  static constexpr uint64_t kDeviceCfgOffset = 0x2000;
  static constexpr uint64_t kNotifyOffset = 0x3000;
  static constexpr uint64_t kMsixTableOffset = 0x4000;
  static constexpr uint64_t kMsixPbaOffset = 0x5000;
  static constexpr uint64_t kRegionSize = 0x1000;
  static constexpr uint64_t kBar0Size = 0x8000;
  static constexpr uint32_t kNotifyOffMultiplier = 4;
  static constexpr uint32_t kNotifyLength = 2;  // the driver writes a 16-bit queue index
  static constexpr uint16_t kMaxQueues = 255;   // num_queues + 1 MSI-X entries fit in 4 KiB
  static constexpr uint16_t kSubsystemVendorId = kVirtioPciVendorId;
  static constexpr uint16_t kSubsystemId = 0x1100;

  struct Counters {
    uint64_t doorbell_notifies = 0;   // queue notifications through the DoorbellRegistry
    uint64_t mmio_notifies = 0;       // queue notifications that arrived as MMIO writes
    uint64_t msix_interrupts = 0;     // signals handed to the MSI-X table
    uint64_t isr_interrupts = 0;      // ISR bit set + wake_vcpus()
    uint64_t feature_rejections = 0;  // FEATURES_OK refused
    uint64_t driver_errors = 0;       // register writes the spec forbids (ignored)
    uint64_t doorbell_failures = 0;   // DoorbellRegistry::add errors (MMIO fallback used)
  };

  // Allocates one MSI route per MSI-X entry. `memory`, `interrupts` and `doorbells` must
  // outlive the transport. Errors: invalid_argument (too many queues or config too
  // large), or the InterruptController's.
  [[nodiscard]] static Result<std::shared_ptr<VirtioPciDevice>> create(std::shared_ptr<VirtioDevice> device,
                                                                       const gmm::GuestMemory& memory,
                                                                       InterruptController& interrupts,
                                                                       DoorbellRegistry& doorbells);
  // Removes the doorbells and resets the device.
  ~VirtioPciDevice() override;
  VirtioPciDevice(const VirtioPciDevice&) = delete;
  VirtioPciDevice& operator=(const VirtioPciDevice&) = delete;

  // PciDevice (threads: vCPU).
  [[nodiscard]] uint32_t config_size() const override { return PciConfigSpace::kConventionalSize; }
  void config_read(uint32_t offset, std::span<uint8_t> data) override;
  void config_write(uint32_t offset, std::span<const uint8_t> data) override;
  [[nodiscard]] PciBarDefinition bar_definition(uint32_t index) const override;
  void assign_bar(uint32_t index, uint64_t address) override;
  [[nodiscard]] std::optional<uint64_t> bar_decode_address(uint32_t index) const override;
  void bar_read(uint32_t index, uint64_t offset, std::span<uint8_t> data) override;
  void bar_write(uint32_t index, uint64_t offset, std::span<const uint8_t> data) override;
  void bar_mapped(uint32_t index, std::optional<uint64_t> address) override;

  // VirtioInterrupt (threads: any; the device's queue handler).
  void notify_queue(uint16_t index) override;
  void needs_reset() override;
  void notify_config() override;

  // Introspection for the VMM's API and tests. Thread: any.
  [[nodiscard]] uint8_t device_status() const;
  [[nodiscard]] bool activated() const { return activated_.load(std::memory_order_acquire); }
  [[nodiscard]] uint64_t offered_features() const { return offered_features_; }
  [[nodiscard]] uint64_t driver_features() const;
  [[nodiscard]] uint16_t num_queues() const { return num_queues_; }
  [[nodiscard]] Counters counters() const;
  [[nodiscard]] const VirtioDevice& device() const { return *device_; }
  // Queue `index` (< num_queues()), for its fault counters and broken() (atomics; the
  // other fields belong to the device while it runs).
  [[nodiscard]] const Queue& queue(uint16_t index) const { return *queues_.at(index); }
  // The PCI class code tide gives a virtio device type (base class << 16 | subclass << 8).
  [[nodiscard]] static uint32_t class_code_for(uint32_t device_type);

 private:
  struct Private {};

 public:
  VirtioPciDevice(Private, std::shared_ptr<VirtioDevice> device, const gmm::GuestMemory& memory,
                  InterruptController& interrupts, DoorbellRegistry& doorbells,
                  std::vector<std::unique_ptr<MsiVector>> vectors);

 private:
  // All *_locked functions run with mutex_ held.
  void bar_read_locked(uint64_t offset, std::span<uint8_t> data);
  void bar_write_locked(uint64_t offset, std::span<const uint8_t> data);
  void common_read_locked(uint64_t offset, std::span<uint8_t> data);
  void common_write_locked(uint64_t offset, std::span<const uint8_t> data);
  [[nodiscard]] uint64_t read_field_locked(uint32_t field);
  void write_field_locked(uint32_t field, uint64_t value);
  void set_status_locked(uint8_t value);
  [[nodiscard]] uint8_t visible_status_locked() const;
  void activate_locked();
  void reset_locked();
  void register_doorbells_locked();
  void register_doorbell_locked(uint16_t index);
  void unregister_doorbells_locked();
  void pci_cfg_access_locked(bool is_write);
  void queue_notified_from_mmio(uint16_t index);
  [[nodiscard]] Queue* selected_queue_locked();
  void driver_error(const char* what);
  [[nodiscard]] uint16_t checked_vector(uint16_t vector) const;  // irq_mutex_ held

  // Fixed at construction.
  const std::shared_ptr<VirtioDevice> device_;
  const gmm::GuestMemory& memory_;
  InterruptController& interrupts_;
  DoorbellRegistry& doorbells_;
  const uint16_t num_queues_;
  const uint32_t device_config_size_;
  const uint64_t offered_features_;

  mutable std::mutex mutex_;
  PciConfigSpace config_;
  uint32_t msix_cap_ = 0;
  uint32_t pci_cfg_cap_ = 0;
  uint32_t device_feature_select_ = 0;
  uint32_t driver_feature_select_ = 0;
  uint64_t driver_features_ = 0;
  uint8_t status_ = 0;
  // Set by the device through needs_reset(): reads of the status show DEVICE_NEEDS_RESET
  // until the driver resets the device.
  std::atomic<bool> needs_reset_{false};
  uint16_t queue_select_ = 0;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::optional<uint64_t> bar0_address_;
  std::vector<std::optional<uint64_t>> doorbell_ids_;
  std::atomic<bool> activated_{false};
  std::atomic<uint8_t> config_generation_{0};
  bool logged_driver_error_ = false;
  bool logged_doorbell_failure_ = false;

  mutable std::mutex irq_mutex_;
  MsixTable msix_;
  uint16_t config_vector_ = VIRTIO_MSI_NO_VECTOR;
  std::vector<uint16_t> queue_vectors_;
  uint8_t isr_ = 0;

  struct AtomicCounters {
    std::atomic<uint64_t> doorbell_notifies{0};
    std::atomic<uint64_t> mmio_notifies{0};
    std::atomic<uint64_t> msix_interrupts{0};
    std::atomic<uint64_t> isr_interrupts{0};
    std::atomic<uint64_t> feature_rejections{0};
    std::atomic<uint64_t> driver_errors{0};
    std::atomic<uint64_t> doorbell_failures{0};
  } counters_;
};

}  // namespace tide::dev
