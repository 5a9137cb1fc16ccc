// PciEcam: the PCIe Enhanced Configuration Access Mechanism (PCIe Base Spec 4.0 §7.2.2),
// what tideguest uses. Register it on the MMIO bus at 0xE0000000 for 0x10000000 bytes
// (256 buses x 32 devices x 8 functions x 4 KiB). An offset decodes as
//   bus = offset[27:20], device = offset[19:15], function = offset[14:12],
//   register = offset[11:0].
// Accesses of 1, 2 or 4 bytes that stay inside one dword reach the function; absent
// functions (any bus but 0, function != 0, empty slots) and other accesses (8 bytes,
// crossing a dword) read all ones and drop writes. Stateless apart from the root.
#pragma once

#include <memory>

#include "devices/bus.hpp"
#include "devices/pci/pci_root.hpp"

namespace tide::dev {

class PciEcam final : public BusDevice {
 public:
  static constexpr uint64_t kBase = 0xe0000000;
  static constexpr uint64_t kSize = 0x10000000;

  // Holds the root weakly: the VMM owns it, and it must go before the buses it maps
  // BARs on (which own this device). Accesses after the root is gone read all ones.
  explicit PciEcam(const std::shared_ptr<PciRoot>& root) : root_(root) {}

  void read(uint64_t base, uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t base, uint64_t offset, std::span<const uint8_t> data) override;

  // Bus/device/function and register of an offset into the window.
  [[nodiscard]] static PciAddress decode_address(uint64_t offset);
  [[nodiscard]] static uint32_t decode_register(uint64_t offset) { return static_cast<uint32_t>(offset & 0xfff); }

 private:
  std::weak_ptr<PciRoot> root_;
};

}  // namespace tide::dev
