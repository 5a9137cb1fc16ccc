// PciHostBridge: the function at 00:00.0 that identifies tide's root complex to the
// guest (docs/machine.md): vendor 0x8086, device 0x0d57, class 0x060000 (host bridge).
// No BARs, no capabilities. Its config space is guarded by one mutex.
#pragma once

#include <mutex>

#include "devices/pci/pci_device.hpp"

namespace tide::dev {

class PciHostBridge final : public PciDevice {
 public:
  static constexpr uint16_t kVendorId = 0x8086;
  static constexpr uint16_t kDeviceId = 0x0d57;
  static constexpr uint32_t kClassCode = 0x060000;

  PciHostBridge();

  [[nodiscard]] uint32_t config_size() const override { return PciConfigSpace::kConventionalSize; }
  void config_read(uint32_t offset, std::span<uint8_t> data) override;
  void config_write(uint32_t offset, std::span<const uint8_t> data) override;
  [[nodiscard]] PciBarDefinition bar_definition(uint32_t) const override { return {}; }
  void assign_bar(uint32_t, uint64_t) override {}
  [[nodiscard]] std::optional<uint64_t> bar_decode_address(uint32_t) const override { return std::nullopt; }
  void bar_read(uint32_t, uint64_t, std::span<uint8_t> data) override;
  void bar_write(uint32_t, uint64_t, std::span<const uint8_t>) override {}

 private:
  std::mutex mutex_;
  PciConfigSpace config_;
};

}  // namespace tide::dev
