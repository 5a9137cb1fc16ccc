// Interrupt and exception dispatch (see interrupts.hpp).
#include "arch/interrupts.hpp"

#include "arch/lapic.hpp"
#include "arch/msr_probe.hpp"
#include "arch/pvm.hpp"
#include "arch/x86.hpp"
#include "dev/debug_exit.hpp"
#include "lib/format.hpp"

extern "C" char __kernel_start[], __kernel_end[];

namespace tg::arch {
namespace {

constexpr uint64_t kFirstExternalVector = 32;
constexpr uint8_t kFirstDriverVector = 0x30;
constexpr uint8_t kLastDriverVector = 0xef;
constexpr uint64_t kSpuriousVector = 0xff;
constexpr uint64_t kGeneralProtection = 13;
constexpr uint64_t kPageFault = 14;
constexpr int kBacktraceDepth = 10;

struct VectorSlot {
  IrqHandler handler;
  void* context;
  bool allocated;
  uint64_t count;
};

VectorSlot g_vectors[256];
uint8_t g_next_vector = kFirstDriverVector;
uint64_t g_stray = 0;

const char* const kExceptionNames[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
    "coprocessor overrun", "#TS invalid TSS", "#NP segment not present",
    "#SS stack fault", "#GP general protection", "#PF page fault", "reserved 15",
    "#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD error",
    "#VE virtualization", "#CP control protection", "reserved 22", "reserved 23",
    "reserved 24", "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
    "#VC VMM communication", "#SX security", "reserved 31"};

bool fix_up(InterruptFrame* f) {
  if (f->vector != kGeneralProtection) return false;
  if (f->rip == reinterpret_cast<uint64_t>(tg_safe_rdmsr_insn)) {
    f->rip = reinterpret_cast<uint64_t>(tg_safe_rdmsr_fixup);
    return true;
  }
  if (f->rip == reinterpret_cast<uint64_t>(tg_safe_wrmsr_insn)) {
    f->rip = reinterpret_cast<uint64_t>(tg_safe_wrmsr_fixup);
    return true;
  }
  return false;
}

bool in_kernel_image(uint64_t address) {
  return address >= reinterpret_cast<uint64_t>(__kernel_start) &&
         address + 16 <= reinterpret_cast<uint64_t>(__kernel_end);
}

[[noreturn]] void crash(const InterruptFrame* f) {
  kprintf("\ntideguest: exception %lu (%s) error=0x%lx\n", f->vector,
          kExceptionNames[f->vector], f->error_code);
  kprintf("  rip=%016lx cs=%04lx rflags=%016lx rsp=%016lx ss=%04lx\n", f->rip, f->cs,
          f->rflags, f->rsp, f->ss);
  if (f->vector == kPageFault) kprintf("  cr2=%016lx\n", read_cr2());
  kprintf("  rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
  kprintf("  rsi=%016lx rdi=%016lx rbp=%016lx r8 =%016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
  kprintf("  r9 =%016lx r10=%016lx r11=%016lx r12=%016lx\n", f->r9, f->r10, f->r11, f->r12);
  kprintf("  r13=%016lx r14=%016lx r15=%016lx cr3=%016lx\n", f->r13, f->r14, f->r15,
          read_cr3());
  kprintf("  backtrace:");
  uint64_t rbp = f->rbp;
  for (int i = 0; i < kBacktraceDepth && (rbp & 7) == 0 && in_kernel_image(rbp); ++i) {
    auto* frame = reinterpret_cast<const uint64_t*>(rbp);
    kprintf(" %lx", frame[1]);
    rbp = frame[0];
  }
  kprintf("\n");
  dev::debug_exit(dev::kExitCrash);
}

}  // namespace

uint8_t allocate_vector(IrqHandler handler, void* context) {
  if (g_next_vector > kLastDriverVector) return 0;
  uint8_t v = g_next_vector++;
  g_vectors[v] = VectorSlot{handler, context, true, 0};
  return v;
}

uint64_t vector_count(uint8_t vector) { return g_vectors[vector].count; }
uint64_t stray_interrupt_count() { return g_stray; }

void irq_enable() {
  if (on_pvm()) {
    VifPage& vif = vif_page();
    vif.interrupt_flag = 1;
    compiler_barrier();
    // An interrupt that arrived while IF was 0 waits for an exit to be injected.
    if (vif.interrupt_pending) outb(0x80, 0);
  } else {
    asm volatile("sti" ::: "memory");
  }
}

void irq_disable() {
  if (on_pvm()) {
    vif_page().interrupt_flag = 0;
    compiler_barrier();
  } else {
    asm volatile("cli" ::: "memory");
  }
}

extern "C" void tg_isr_dispatch(InterruptFrame* frame) {
  uint64_t v = frame->vector;
  if (v < kFirstExternalVector) {
    if (fix_up(frame)) return;
    crash(frame);
  }
  if (v == kSpuriousVector) {
    ++g_stray;
    return;  // spurious LAPIC interrupts take no EOI
  }
  VectorSlot& slot = g_vectors[v];
  if (slot.allocated) {
    ++slot.count;
    if (slot.handler != nullptr) slot.handler(slot.context);
  } else {
    ++g_stray;
  }
  lapic_eoi();
}

}  // namespace tg::arch
