// PVM support: detection and the VIF page that lets a guest kernel run natively on a PVM
// host (see shared/design/PVM.md). Detection reads MSR 0x4b564d11 with a #GP fixup, so it
// is harmless on hardware-virtualization KVM, where the MSR does not exist and the VIF is
// skipped. Once registered, the VIF page holds the virtual interrupt flag: the kernel
// enables interrupts by writing it (arch::irq_enable), never with `sti`.
#pragma once

#include <cstdint>

namespace tg::arch {

// Layout of the VIF page's head (the rest of the page is unused and stays zero).
struct VifPage {
  volatile uint8_t interrupt_flag;     // byte 0: virtual IF
  volatile uint8_t interrupt_pending;  // byte 1: an interrupt waits for IF=1
};

// Probes for PVM and, if present, registers the VIF page (needs the #GP gate loaded).
// Runs emulated on PVM until the registering wrmsr; returns whether PVM was found.
bool pvm_enter_native();
bool on_pvm();
// The host's PVM feature word (MSR 0x4b564d12), 0 when not on PVM.
uint64_t pvm_features();
VifPage& vif_page();
uint64_t vif_page_gpa();

}  // namespace tg::arch
