// The CPU's descriptor tables: the boot GDT (Linux layout, defined in entry.S) gets a
// 64-bit TSS, and the IDT routes all 256 vectors to the stubs in isr_stubs.S.
// init_cpu_tables_early() runs before PVM native mode (emulated), so it installs only
// the #GP gate the PVM probe needs; init_idt() fills the rest once running natively.
#pragma once

#include <cstdint>

namespace tg::arch {

// Selectors of the boot GDT (entry.S).
inline constexpr uint16_t kKernelCs = 0x10;
inline constexpr uint16_t kKernelDs = 0x18;
inline constexpr uint16_t kTssSelector = 0x40;

// Loads TR (TSS with rsp0 and an IST stack for #DF), an IDT holding only #GP, and
// MSR_STAR in the Linux layout.
void init_cpu_tables_early();
// Points every IDT gate at its stub.
void init_idt();

}  // namespace tg::arch
