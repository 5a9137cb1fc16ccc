// PciConfigIo: PCI configuration mechanism 1 (PCI Local Bus Spec 3.0 §3.2.2.3.2), the
// port pair Linux uses. Register it on the PIO bus at 0xCF8 for 8 ports:
//   0xCF8       CONFIG_ADDRESS, 32-bit only: enable (bit 31), bus (23:16), device
//               (15:11), function (10:8), register (7:2). Narrower accesses there are
//               not config cycles: reads return all ones, writes are ignored.
//   0xCFC-0xCFF CONFIG_DATA: 8/16/32-bit at any offset inside the dword selected by
//               CONFIG_ADDRESS; with the enable bit clear, reads all ones.
// Only the 256-byte conventional space is reachable this way (use ECAM for the rest).
// Thread-safety: CONFIG_ADDRESS is one atomic, shared by all vCPUs as on real hardware
// (guests serialize address+data pairs themselves).
#pragma once

#include <atomic>
#include <memory>

#include "devices/bus.hpp"
#include "devices/pci/pci_root.hpp"

namespace tide::dev {

class PciConfigIo final : public BusDevice {
 public:
  static constexpr uint64_t kBase = 0xcf8;
  static constexpr uint64_t kLength = 8;
  static constexpr uint32_t kEnableBit = 1u << 31;

  // Holds the root weakly: the VMM owns it, and it must go before the buses it maps
  // BARs on (which own this device). Accesses after the root is gone read all ones.
  explicit PciConfigIo(const std::shared_ptr<PciRoot>& root) : root_(root) {}

  void read(uint64_t base, uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t base, uint64_t offset, std::span<const uint8_t> data) override;

  [[nodiscard]] uint32_t address_register() const { return address_.load(std::memory_order_relaxed); }

 private:
  std::weak_ptr<PciRoot> root_;
  std::atomic<uint32_t> address_{0};
};

}  // namespace tide::dev
