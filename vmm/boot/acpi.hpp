// Minimal ACPI 2.0+ tables for the tide machine (docs/machine.md): RSDP -> XSDT -> FADT
// (hardware-reduced, with an empty DSDT), MADT (LAPICs and the IOAPIC) and MCFG (ECAM).
// Pure: builds the bytes for a given base address; the caller writes them to guest RAM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tide::vmm {

struct AcpiConfig {
  uint32_t nr_vcpus = 1;
  uint64_t ecam_base = 0;
  uint8_t ecam_last_bus = 0;
  uint64_t ioapic_base = 0;
  uint64_t lapic_base = 0;
};

// Tables laid out from `base` (the RSDP first, 16-byte aligned). Every table's checksum is
// valid.
[[nodiscard]] std::vector<std::byte> build_acpi_tables(uint64_t base, const AcpiConfig& config);

}  // namespace tide::vmm
