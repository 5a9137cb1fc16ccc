// Interrupt and exception dispatch. Exceptions (vectors 0-31) print a register dump and
// end the VM with status 0x7f, except the #GP of an MSR probe (msr_probe.hpp), which is
// fixed up. Vectors 0x30-0xef are handed out to drivers (MSI-X); each delivery is counted,
// the driver's handler runs with interrupts off, then the LAPIC gets its EOI.
// Interrupts are enabled through the PVM VIF byte on PVM and with `sti` elsewhere.
#pragma once

#include <cstdint>

namespace tg::arch {

// What isr_stubs.S pushes, lowest address first.
struct InterruptFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error_code;
  uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

using IrqHandler = void (*)(void* context);

// Reserves an unused vector for `handler` (may be null: count only). 0 when none is left.
uint8_t allocate_vector(IrqHandler handler, void* context);
// Deliveries of `vector` since boot.
uint64_t vector_count(uint8_t vector);
// Deliveries of vectors nobody allocated (legacy PIC leftovers, spurious).
uint64_t stray_interrupt_count();

void irq_enable();
void irq_disable();

}  // namespace tg::arch
