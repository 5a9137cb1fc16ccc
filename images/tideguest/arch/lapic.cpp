// Local APIC set-up and EOI (see lapic.hpp).
#include "arch/lapic.hpp"

#include "arch/x86.hpp"

namespace tg::arch {
namespace {

// Intel SDM vol. 3, chapter 11 (APIC). Register offsets are xAPIC MMIO offsets; the
// x2APIC MSR is 0x800 + offset / 16.
constexpr uint64_t kXApicBase = 0xfee00000;
constexpr uint32_t APIC_ID = 0x20;
constexpr uint32_t APIC_TPR = 0x80;
constexpr uint32_t APIC_EOI = 0xb0;
constexpr uint32_t APIC_SVR = 0xf0;
constexpr uint32_t APIC_LVT_LINT0 = 0x350;
constexpr uint32_t APIC_LVT_LINT1 = 0x360;
constexpr uint32_t APIC_SVR_ENABLE = 0x100;
constexpr uint32_t APIC_LVT_MASKED = 0x10000;
constexpr uint32_t kSpuriousVector = 0xff;
constexpr uint64_t APIC_BASE_EXTD = 1 << 10;
constexpr uint64_t APIC_BASE_ENABLE = 1 << 11;
constexpr uint32_t CPUID_1_ECX_X2APIC = 1u << 21;
constexpr uint16_t kPic1Data = 0x21;
constexpr uint16_t kPic2Data = 0xa1;

ApicMode g_mode = ApicMode::kNone;

void write_reg(uint32_t reg, uint32_t value) {
  if (g_mode == ApicMode::kX2Apic) {
    wrmsr(0x800 + reg / 16, value);
  } else {
    *reinterpret_cast<volatile uint32_t*>(kXApicBase + reg) = value;
  }
}

uint32_t read_reg(uint32_t reg) {
  if (g_mode == ApicMode::kX2Apic) return static_cast<uint32_t>(rdmsr(0x800 + reg / 16));
  return *reinterpret_cast<volatile uint32_t*>(kXApicBase + reg);
}

}  // namespace

void lapic_init(bool prefer_xapic) {
  // Mask the 8259s: anything they raised through LINT0 would only be noise here.
  outb(kPic1Data, 0xff);
  outb(kPic2Data, 0xff);

  bool x2 = !prefer_xapic && (cpuid(1).ecx & CPUID_1_ECX_X2APIC) != 0;
  uint64_t base = rdmsr(IA32_APIC_BASE);
  base |= APIC_BASE_ENABLE;
  if (x2) base |= APIC_BASE_EXTD;
  wrmsr(IA32_APIC_BASE, base);
  g_mode = x2 ? ApicMode::kX2Apic : ApicMode::kXApic;

  write_reg(APIC_TPR, 0);
  write_reg(APIC_LVT_LINT0, APIC_LVT_MASKED);
  write_reg(APIC_LVT_LINT1, APIC_LVT_MASKED);
  write_reg(APIC_SVR, APIC_SVR_ENABLE | kSpuriousVector);
}

ApicMode lapic_mode() { return g_mode; }

const char* lapic_mode_name() {
  switch (g_mode) {
    case ApicMode::kX2Apic: return "x2apic";
    case ApicMode::kXApic: return "xapic";
    case ApicMode::kNone: break;
  }
  return "none";
}

uint32_t lapic_id() {
  if (g_mode == ApicMode::kX2Apic) return read_reg(APIC_ID);
  if (g_mode == ApicMode::kXApic) return read_reg(APIC_ID) >> 24;
  return cpuid(1).ebx >> 24;
}

void lapic_eoi() {
  if (g_mode != ApicMode::kNone) write_reg(APIC_EOI, 0);
}

}  // namespace tg::arch
