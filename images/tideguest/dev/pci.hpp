// PCI through PCIe ECAM (MMIO: reliable on PVM, unlike 32-bit port output). The ECAM base
// comes from the ACPI MCFG table, else 0xE0000000 (tide's and QEMU microvm's). Bus 0 is
// enumerated once, on first use. BARs are read as the firmware or VMM left them; a memory
// BAR a driver needs that is unassigned (0) gets an address from 0xC0000000 upward,
// avoiding every BAR already assigned. Memory BARs are mapped uncached on setup.
// Boot CPU only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg::dev {

struct PciBar {
  uint64_t base = 0;
  uint64_t size = 0;  // 0 when not sized
  bool present = false;
  bool io = false;
  bool is64 = false;
  bool prefetchable = false;
};

struct PciFunction {
  uint8_t bus, device, function;
  uint16_t vendor_id, device_id;
  uint16_t subsystem_id;
  uint8_t class_code, subclass, prog_if, revision;
  uint64_t config;  // ECAM address of this function's 4 KiB configuration space

  // Header type 0 (an endpoint with six BARs), as opposed to a bridge.
  bool is_endpoint() const;

  uint8_t read8(uint16_t offset) const;
  uint16_t read16(uint16_t offset) const;
  uint32_t read32(uint16_t offset) const;
  void write16(uint16_t offset, uint16_t value) const;
  void write32(uint16_t offset, uint32_t value) const;
};

// PCI configuration space (PCI Local Bus 3.0, 6.1-6.7).
inline constexpr uint16_t PCI_COMMAND = 0x04;
inline constexpr uint16_t PCI_COMMAND_IO = 0x1;
inline constexpr uint16_t PCI_COMMAND_MEMORY = 0x2;
inline constexpr uint16_t PCI_COMMAND_MASTER = 0x4;
inline constexpr uint16_t PCI_STATUS = 0x06;
inline constexpr uint16_t PCI_STATUS_CAP_LIST = 0x10;
inline constexpr uint16_t PCI_BASE_ADDRESS_0 = 0x10;
inline constexpr uint16_t PCI_CAPABILITY_LIST = 0x34;
inline constexpr uint8_t PCI_CAP_ID_MSIX = 0x11;
inline constexpr uint8_t PCI_CAP_ID_VNDR = 0x09;

// Enumerates bus 0 the first time; later calls are free.
void pci_init();
uint64_t pci_ecam_base();
bool pci_ecam_from_acpi();
size_t pci_function_count();
PciFunction& pci_function(size_t index);

// Offset of the first capability with `id` after offset `after` (0: from the start), or 0.
uint8_t pci_find_capability(const PciFunction& f, uint8_t id, uint8_t after = 0);
// Reads BAR `index` (0-5); with_size runs the sizing protocol (decode briefly off).
PciBar pci_read_bar(const PciFunction& f, unsigned index, bool with_size);
// Makes memory BAR `index` usable: assigns it if unassigned, maps it uncached, and turns
// on memory decoding. Returns the BAR (present == false on failure).
PciBar pci_setup_bar(const PciFunction& f, unsigned index);
// Enables memory decoding and bus mastering (DMA).
void pci_enable(const PciFunction& f);

}  // namespace tg::dev
