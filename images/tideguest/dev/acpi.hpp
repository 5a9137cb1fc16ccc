// ACPI discovery, read once at boot and cached (the tables may sit in RAM that the page
// allocator later hands out): RSDP (from start_info, else the BIOS-area scan) -> XSDT or
// RSDT -> MCFG (the PCIe ECAM window) and MADT (the CPUs). Tables with a bad checksum are
// logged and skipped.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg::dev {

struct AcpiSummary {
  bool found = false;
  uint64_t rsdp = 0;
  bool xsdt = false;
  bool has_mcfg = false;
  uint64_t ecam_base = 0;
  uint16_t ecam_segment = 0;
  uint8_t ecam_start_bus = 0;
  uint8_t ecam_end_bus = 0;
  bool has_madt = false;
  uint32_t cpu_count = 0;  // enabled or online-capable LAPIC/x2APIC entries
  static constexpr size_t kMaxTables = 16;
  char tables[kMaxTables][5] = {};  // signatures seen, NUL-terminated
  size_t table_count = 0;
};

void acpi_init(uint64_t rsdp_paddr);
const AcpiSummary& acpi();

}  // namespace tg::dev
