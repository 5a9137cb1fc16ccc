#include "devices/pci/host_bridge.hpp"

#include <algorithm>

namespace tide::dev {

PciHostBridge::PciHostBridge()
    : config_(PciIdentity{.vendor_id = kVendorId,
                          .device_id = kDeviceId,
                          .revision = 0,
                          .class_code = kClassCode,
                          .subsystem_vendor_id = 0,
                          .subsystem_id = 0}) {}

void PciHostBridge::config_read(uint32_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  config_.read(offset, data);
}

void PciHostBridge::config_write(uint32_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  config_.write(offset, data);
}

void PciHostBridge::bar_read(uint32_t, uint64_t, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), uint8_t{0xff});
}

}  // namespace tide::dev
