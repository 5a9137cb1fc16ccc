// FakePciDevice: a PCI function with the BARs a test asks for, built on the real
// PciConfigSpace. Records BAR accesses and every bar_mapped() callback.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "devices/le_bytes.hpp"
#include "devices/pci/pci_device.hpp"

namespace tide::dev::test {

class FakePciDevice final : public PciDevice {
 public:
  struct Access {
    uint32_t bar;
    uint64_t offset;
    uint64_t value;
    bool write;
  };

  explicit FakePciDevice(std::vector<std::pair<uint32_t, PciBarDefinition>> bars, uint16_t device_id = 0x1234)
      : config_(PciIdentity{.vendor_id = 0x1b36,
                            .device_id = device_id,
                            .revision = 2,
                            .class_code = 0xff0000,
                            .subsystem_vendor_id = 0,
                            .subsystem_id = 0}) {
    for (auto& [index, def] : bars) config_.define_bar(index, def);
  }

  [[nodiscard]] uint32_t config_size() const override { return PciConfigSpace::kConventionalSize; }
  void config_read(uint32_t offset, std::span<uint8_t> data) override {
    std::lock_guard lock(mutex_);
    config_.read(offset, data);
  }
  void config_write(uint32_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(mutex_);
    config_.write(offset, data);
  }
  [[nodiscard]] PciBarDefinition bar_definition(uint32_t index) const override {
    std::lock_guard lock(mutex_);
    return config_.bar_definition(index);
  }
  void assign_bar(uint32_t index, uint64_t address) override {
    std::lock_guard lock(mutex_);
    config_.assign_bar(index, address);
  }
  [[nodiscard]] std::optional<uint64_t> bar_decode_address(uint32_t index) const override {
    std::lock_guard lock(mutex_);
    return config_.bar_decode_address(index);
  }
  void bar_read(uint32_t index, uint64_t offset, std::span<uint8_t> data) override {
    std::lock_guard lock(mutex_);
    store_le(data, 0xa0a0a0a000000000ull | (uint64_t{index} << 24) | offset);
    accesses_.push_back({index, offset, 0, false});
  }
  void bar_write(uint32_t index, uint64_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(mutex_);
    accesses_.push_back({index, offset, load_le(data), true});
  }
  void bar_mapped(uint32_t index, std::optional<uint64_t> address) override {
    std::lock_guard lock(mutex_);
    mapped_calls_.emplace_back(index, address);
  }

  [[nodiscard]] std::vector<Access> accesses() const {
    std::lock_guard lock(mutex_);
    return accesses_;
  }
  [[nodiscard]] std::vector<std::pair<uint32_t, std::optional<uint64_t>>> mapped_calls() const {
    std::lock_guard lock(mutex_);
    return mapped_calls_;
  }
  [[nodiscard]] Status check_invariants() const {
    std::lock_guard lock(mutex_);
    return config_.check_invariants();
  }

 private:
  mutable std::mutex mutex_;
  PciConfigSpace config_;
  std::vector<Access> accesses_;
  std::vector<std::pair<uint32_t, std::optional<uint64_t>>> mapped_calls_;
};

}  // namespace tide::dev::test
