// VirtioPciDriver: the guest side of a virtio-pci modern device, doing what Linux's
// virtio_pci_modern and tideguest do: walk the capability list through ECAM, find the
// structures in BAR 0, negotiate features, set up queues and MSI-X, notify. Every access
// goes through the MMIO bus, so the tests exercise the same dispatch as a guest.
#pragma once

#include <array>
#include <cstdint>
#include <map>

#include "devices/bus.hpp"
#include "devices/le_bytes.hpp"
#include "devices/pci/config_space.hpp"
#include "devices/pci/ecam.hpp"
#include "devices/virtio/virtio_spec.hpp"

namespace tide::dev::test {

class VirtioPciDriver {
 public:
  struct Cap {
    uint32_t config_offset = 0;  // where the capability sits in config space
    uint8_t bar = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
  };

  VirtioPciDriver(Bus& mmio, uint8_t slot) : mmio_(mmio), slot_(slot) { discover(); }

  // --- Config space through ECAM.
  uint64_t cfg_read(uint32_t reg, size_t width) {
    return mmio_read(PciEcam::kBase + (uint64_t{slot_} << 15) + reg, width);
  }
  void cfg_write(uint32_t reg, uint64_t value, size_t width) {
    mmio_write(PciEcam::kBase + (uint64_t{slot_} << 15) + reg, value, width);
  }

  // --- Raw MMIO.
  uint64_t mmio_read(uint64_t gpa, size_t width) {
    std::array<uint8_t, 8> b{};
    mmio_.read(gpa, std::span(b).first(width));
    return load_le(std::span(b).first(width));
  }
  bool mmio_write(uint64_t gpa, uint64_t value, size_t width) {
    std::array<uint8_t, 8> b{};
    store_le(std::span(b).first(width), value);
    return mmio_.write(gpa, std::span(b).first(width));
  }

  // Re-reads BAR 0 and the capability list (after the test moved the BAR).
  void discover() {
    caps_.clear();
    bar0_ = (cfg_read(kPciBar0, 4) & ~0xfull) | (cfg_read(kPciBar0 + 4, 4) << 32);
    uint32_t cap = (cfg_read(kPciStatus, 2) & kPciStatusCapabilitiesList)
                       ? static_cast<uint32_t>(cfg_read(kPciCapabilitiesPointer, 1))
                       : 0;
    while (cap != 0) {
      auto id = static_cast<uint8_t>(cfg_read(cap, 1));
      if (id == kPciCapIdVendor) {
        auto type = static_cast<uint8_t>(cfg_read(cap + 3, 1));
        caps_[type] = Cap{cap, static_cast<uint8_t>(cfg_read(cap + 4, 1)), static_cast<uint32_t>(cfg_read(cap + 8, 4)),
                          static_cast<uint32_t>(cfg_read(cap + 12, 4))};
        if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) notify_multiplier_ = static_cast<uint32_t>(cfg_read(cap + 16, 4));
      } else if (id == kPciCapIdMsix) {
        msix_cap_ = cap;
      }
      cap = static_cast<uint32_t>(cfg_read(cap + 1, 1));
    }
  }
  [[nodiscard]] bool has_cap(uint8_t type) const { return caps_.count(type) != 0; }
  [[nodiscard]] Cap cap(uint8_t type) const { return caps_.at(type); }
  [[nodiscard]] uint64_t bar0() const { return bar0_; }
  [[nodiscard]] uint32_t msix_cap() const { return msix_cap_; }
  [[nodiscard]] uint32_t notify_multiplier() const { return notify_multiplier_; }

  // --- Structures in BAR 0.
  uint64_t common_read(uint32_t off, size_t width) { return mmio_read(at(VIRTIO_PCI_CAP_COMMON_CFG, off), width); }
  void common_write(uint32_t off, uint64_t value, size_t width) {
    mmio_write(at(VIRTIO_PCI_CAP_COMMON_CFG, off), value, width);
  }
  uint8_t status() { return static_cast<uint8_t>(common_read(kCommonDeviceStatus, 1)); }
  void set_status(uint8_t s) { common_write(kCommonDeviceStatus, s, 1); }
  uint8_t read_isr() { return static_cast<uint8_t>(mmio_read(at(VIRTIO_PCI_CAP_ISR_CFG, 0), 1)); }
  uint64_t device_cfg_read(uint32_t off, size_t width) { return mmio_read(at(VIRTIO_PCI_CAP_DEVICE_CFG, off), width); }
  [[nodiscard]] uint64_t notify_address(uint16_t queue) {
    common_write(kCommonQueueSelect, queue, 2);
    auto off = static_cast<uint32_t>(common_read(kCommonQueueNotifyOff, 2));
    return at(VIRTIO_PCI_CAP_NOTIFY_CFG, off * notify_multiplier_);
  }
  bool notify(uint16_t queue) { return mmio_write(notify_address(queue), queue, 2); }

  [[nodiscard]] uint64_t device_features() {
    common_write(kCommonDeviceFeatureSelect, 0, 4);
    uint64_t lo = common_read(kCommonDeviceFeature, 4);
    common_write(kCommonDeviceFeatureSelect, 1, 4);
    return lo | (common_read(kCommonDeviceFeature, 4) << 32);
  }
  void write_driver_features(uint64_t features) {
    common_write(kCommonDriverFeatureSelect, 0, 4);
    common_write(kCommonDriverFeature, features & 0xffffffffu, 4);
    common_write(kCommonDriverFeatureSelect, 1, 4);
    common_write(kCommonDriverFeature, features >> 32, 4);
  }
  // §3.1.1 steps 1-6; true if the device accepted the features.
  bool negotiate(uint64_t features) {
    set_status(0);
    set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    write_driver_features(features);
    set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
    return (status() & VIRTIO_CONFIG_S_FEATURES_OK) != 0;
  }
  // §4.1.5.1.3 virtqueue configuration; returns the queue_size read back.
  uint16_t setup_queue(uint16_t index, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
                       uint16_t vector = VIRTIO_MSI_NO_VECTOR) {
    common_write(kCommonQueueSelect, index, 2);
    common_write(kCommonQueueSize, size, 2);
    common_write(kCommonQueueDesc, desc & 0xffffffffu, 4);  // as two dwords, like Linux
    common_write(kCommonQueueDesc + 4, desc >> 32, 4);
    common_write(kCommonQueueDriver, avail, 8);
    common_write(kCommonQueueDevice, used, 8);
    common_write(kCommonQueueMsixVector, vector, 2);
    common_write(kCommonQueueEnable, 1, 2);
    return static_cast<uint16_t>(common_read(kCommonQueueSize, 2));
  }
  void driver_ok() { set_status(status() | VIRTIO_CONFIG_S_DRIVER_OK); }

  // --- MSI-X.
  void msix_control(uint16_t control) { cfg_write(msix_cap_ + 2, control, 2); }
  [[nodiscard]] uint64_t msix_table() { return bar0_ + (cfg_read(msix_cap_ + 4, 4) & ~7ull); }
  [[nodiscard]] uint64_t msix_pba() { return bar0_ + (cfg_read(msix_cap_ + 8, 4) & ~7ull); }
  void msix_program(uint16_t entry, uint64_t address, uint32_t data, bool masked) {
    uint64_t e = msix_table() + 16ull * entry;
    mmio_write(e + 0, address & 0xffffffffu, 4);
    mmio_write(e + 4, address >> 32, 4);
    mmio_write(e + 8, data, 4);
    mmio_write(e + 12, masked ? 1 : 0, 4);
  }
  void msix_mask(uint16_t entry, bool masked) { mmio_write(msix_table() + 16ull * entry + 12, masked ? 1 : 0, 4); }

 private:
  uint64_t at(uint8_t type, uint64_t off) const { return bar0_ + caps_.at(type).offset + off; }

  Bus& mmio_;
  uint8_t slot_;
  uint64_t bar0_ = 0;
  std::map<uint8_t, Cap> caps_;
  uint32_t msix_cap_ = 0;
  uint32_t notify_multiplier_ = 0;
};

}  // namespace tide::dev::test
