// GDT TSS descriptor, TSS and IDT set-up (see cpu_tables.hpp).
#include "arch/cpu_tables.hpp"

#include <cstddef>

#include "arch/x86.hpp"

namespace tg::arch {

extern "C" {
extern uint64_t boot_gdt[];
extern char boot_stack_top[];
extern char tg_isr_stubs[];
}

namespace {

constexpr int kIdtEntries = 256;
constexpr size_t kIsrStubStride = 16;
constexpr uint8_t kGateInterrupt64 = 0x8e;  // present, DPL 0, 64-bit interrupt gate
constexpr uint8_t kTssAvailable64 = 0x89;   // present, 64-bit TSS (available)
constexpr uint8_t kDoubleFaultVector = 8;
constexpr uint8_t kGeneralProtectionVector = 13;
constexpr uint8_t kDoubleFaultIst = 1;
// SYSCALL/SYSRET selector bases in the Linux layout: kernel CS 0x10 (SS 0x18), user
// bases 0x20 (32-bit CS 0x23, SS 0x2b, 64-bit CS 0x33). PVM derives the guest's
// kernel/user segments from it, so it is set even though tideguest never uses SYSCALL.
constexpr uint64_t kStarLinuxLayout = 0x0023001000000000;

struct [[gnu::packed]] Tss64 {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
};
static_assert(sizeof(Tss64) == 104);

struct IdtGate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);

struct [[gnu::packed]] DescriptorPointer {
  uint16_t limit;
  uint64_t base;
};

alignas(16) Tss64 g_tss;
alignas(16) IdtGate g_idt[kIdtEntries];
alignas(16) char g_double_fault_stack[8192];

void set_gate(int vector, uint8_t ist) {
  uintptr_t handler = reinterpret_cast<uintptr_t>(tg_isr_stubs) + kIsrStubStride * static_cast<size_t>(vector);
  IdtGate& g = g_idt[vector];
  g.offset_low = static_cast<uint16_t>(handler);
  g.selector = kKernelCs;
  g.ist = ist;
  g.type_attr = kGateInterrupt64;
  g.offset_mid = static_cast<uint16_t>(handler >> 16);
  g.offset_high = static_cast<uint32_t>(handler >> 32);
  g.reserved = 0;
}

void load_idt() {
  DescriptorPointer p{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
  asm volatile("lidt %0" : : "m"(p) : "memory");
}

}  // namespace

void init_cpu_tables_early() {
  g_tss.rsp[0] = reinterpret_cast<uint64_t>(boot_stack_top);
  g_tss.ist[kDoubleFaultIst - 1] =
      reinterpret_cast<uint64_t>(g_double_fault_stack + sizeof(g_double_fault_stack));
  g_tss.iomap_base = sizeof(Tss64);  // no I/O bitmap

  uint64_t base = reinterpret_cast<uint64_t>(&g_tss);
  uint64_t limit = sizeof(Tss64) - 1;
  uint64_t low = (limit & 0xffff) | ((base & 0xffffff) << 16) | (uint64_t{kTssAvailable64} << 40) |
                 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  boot_gdt[kTssSelector / 8] = low;
  boot_gdt[kTssSelector / 8 + 1] = base >> 32;
  asm volatile("ltr %0" : : "r"(kTssSelector) : "memory");

  set_gate(kGeneralProtectionVector, 0);
  load_idt();
  wrmsr(MSR_STAR, kStarLinuxLayout);
}

void init_idt() {
  for (int v = 0; v < kIdtEntries; ++v) set_gate(v, v == kDoubleFaultVector ? kDoubleFaultIst : 0);
}

}  // namespace tg::arch
