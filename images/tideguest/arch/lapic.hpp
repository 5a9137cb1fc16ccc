// The local APIC of the boot CPU: software-enabled with spurious vector 0xff, TPR 0,
// LINT0/LINT1 masked, the legacy PICs masked (MSI-X is the only interrupt source used).
// x2APIC (MSRs) when the CPU offers it, else xAPIC MMIO at 0xFEE00000 (which the page
// tables map uncached). Single CPU, no locking.
#pragma once

#include <cstdint>

namespace tg::arch {

enum class ApicMode { kNone, kXApic, kX2Apic };

// prefer_xapic forces MMIO mode even when x2APIC is available (for experiments).
void lapic_init(bool prefer_xapic);
ApicMode lapic_mode();
const char* lapic_mode_name();
uint32_t lapic_id();
void lapic_eoi();

}  // namespace tg::arch
