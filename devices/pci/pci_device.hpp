// PciDevice: what the PCI root needs from one function on bus 0. The device owns its
// config space (usually a PciConfigSpace) and its BAR registers; the root owns where the
// BARs are mapped on the buses. Implementations lock their own state: config accesses come
// from vCPU threads (through mechanism 1 or ECAM), BAR accesses from any vCPU at once.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "devices/pci/config_space.hpp"

namespace tide::dev {

class PciDevice {
 public:
  virtual ~PciDevice() = default;

  // 256 (conventional) or 4096 (PCIe extended space).
  [[nodiscard]] virtual uint32_t config_size() const = 0;
  // Config space access: `offset` + data.size() <= config_size(), width 1, 2 or 4, never
  // crossing a dword. Thread: vCPU (the root serializes config accesses).
  virtual void config_read(uint32_t offset, std::span<uint8_t> data) = 0;
  virtual void config_write(uint32_t offset, std::span<const uint8_t> data) = 0;

  // BAR `index` (0..5) as defined at construction; unimplemented slots have size 0.
  [[nodiscard]] virtual PciBarDefinition bar_definition(uint32_t index) const = 0;
  // Pre-assignment by the root before boot: program the BAR and enable its decoding.
  virtual void assign_bar(uint32_t index, uint64_t address) = 0;
  // Where BAR `index` decodes now (nullopt: it does not). Thread: vCPU, set-up.
  [[nodiscard]] virtual std::optional<uint64_t> bar_decode_address(uint32_t index) const = 0;

  // MMIO/PIO access inside BAR `index`, `offset` bytes from its start. Thread: any vCPU.
  virtual void bar_read(uint32_t index, uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void bar_write(uint32_t index, uint64_t offset, std::span<const uint8_t> data) = 0;

  // The guest moved BAR `index` or toggled its decoding: it now decodes at `address`
  // (nullopt: nowhere). The root calls this after it re-registered the bus range, from the
  // vCPU thread doing the config write (or at set-up), holding the root's lock: it must not
  // call back into the root. Devices with doorbells or other address-bound state follow
  // the BAR here.
  virtual void bar_mapped(uint32_t index, std::optional<uint64_t> address) {
    (void)index;
    (void)address;
  }
};

}  // namespace tide::dev
