#include "vmm/boot/cpu_setup.hpp"

#include <algorithm>
#include <array>

#include "vmm/kvm/abi.hpp"
#include "vmm/machine/layout.hpp"

namespace tide::vmm {
namespace {

// Boot GDTs. PVH: 0x10 32-bit code, 0x18 data (docs/machine.md). Long mode: 0x10 64-bit
// code and 0x18 data, the kernel selectors that MSR_STAR names (PVM derives the kernel CS
// from it). Both have a 32-bit busy TSS at 0x20 (base 0, limit 0x67).
constexpr std::array<uint64_t, 5> kPvhGdt = {
    0, 0x00af9b000000ffff, 0x00cf9b000000ffff, 0x00cf93000000ffff, 0x00008b0000000067};
constexpr std::array<uint64_t, 5> kLongModeGdt = {
    0, 0x00cf9b000000ffff, 0x00af9b000000ffff, 0x00cf93000000ffff, 0x00008b0000000067};

kvm_segment code_segment(uint16_t selector, bool long_mode) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = 0xb;  // execute/read, accessed
  s.present = 1;
  s.s = 1;
  s.g = 1;
  s.l = long_mode ? 1 : 0;
  s.db = long_mode ? 0 : 1;
  return s;
}

kvm_segment data_segment(uint16_t selector) {
  kvm_segment s{};
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = 0x3;  // read/write, accessed
  s.present = 1;
  s.s = 1;
  s.g = 1;
  s.db = 1;
  return s;
}

kvm_segment tss_segment() {
  kvm_segment s{};
  s.limit = 0x67;
  s.selector = 0x20;
  s.type = 0xb;  // busy TSS
  s.present = 1;
  return s;
}

Status write_gdt(const gmm::GuestMemory& memory, const std::array<uint64_t, 5>& gdt, kvm_sregs& sregs) {
  sregs.gdt.base = layout::kBootGdt;
  sregs.gdt.limit = static_cast<uint16_t>(sizeof gdt - 1);
  return memory.write(gmm::Gpa(layout::kBootGdt), std::as_bytes(std::span(gdt)));
}

constexpr uint64_t kCr0Pe = 1, kCr0Et = 1 << 4, kCr0Ne = 1 << 5, kCr0Pg = 1ULL << 31;
constexpr uint64_t kCr4Pae = 1 << 5;
constexpr uint64_t kEferLme = 1 << 8, kEferLma = 1 << 10;
constexpr uint32_t kMsrStar = 0xc0000081;
// Linux's MSR_STAR layout, which PVM expects (shared/design/PVM.md).
constexpr uint64_t kLinuxStar = 0x0023001000000000;

}  // namespace

Status setup_pvh_entry(const VcpuFd& vcpu, const gmm::GuestMemory& memory, uint32_t entry,
                       uint64_t start_info_paddr) {
  TIDE_TRY_ASSIGN(sregs, vcpu.get_sregs());
  TIDE_TRY(write_gdt(memory, kPvhGdt, sregs));
  sregs.cs = code_segment(0x10, false);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data_segment(0x18);
  sregs.tr = tss_segment();
  sregs.idt.base = 0;
  sregs.idt.limit = 0;
  sregs.cr0 = kCr0Pe | kCr0Et;
  sregs.cr3 = 0;
  sregs.cr4 = 0;
  sregs.efer = 0;
  TIDE_TRY(vcpu.set_sregs(sregs));
  kvm_regs regs{};
  regs.rip = entry;
  regs.rbx = start_info_paddr;
  regs.rflags = 0x2;
  return vcpu.set_regs(regs);
}

Status write_identity_page_tables(const gmm::GuestMemory& memory, uint64_t at) {
  // PML4 at `at`, PDPT at +0x1000, four PDs at +0x2000.. mapping 4 GiB with 2 MiB pages.
  constexpr uint64_t kPresentRwUser = 0x7, kLarge = 0x80;
  std::array<uint64_t, 512> table{};
  table[0] = (at + 0x1000) | kPresentRwUser;
  TIDE_TRY(memory.write(gmm::Gpa(at), std::as_bytes(std::span(table))));
  table.fill(0);
  for (uint64_t i = 0; i < 4; ++i) table[i] = (at + 0x2000 + i * 0x1000) | kPresentRwUser;
  TIDE_TRY(memory.write(gmm::Gpa(at + 0x1000), std::as_bytes(std::span(table))));
  for (uint64_t pd = 0; pd < 4; ++pd) {
    for (uint64_t i = 0; i < 512; ++i) table[i] = ((pd * 512 + i) << 21) | kPresentRwUser | kLarge;
    TIDE_TRY(memory.write(gmm::Gpa(at + 0x2000 + pd * 0x1000), std::as_bytes(std::span(table))));
  }
  return ok();
}

Status setup_long_mode_entry(const VcpuFd& vcpu, const gmm::GuestMemory& memory, const LongModeEntry& e,
                             HostKind host) {
  TIDE_TRY_ASSIGN(sregs, vcpu.get_sregs());
  TIDE_TRY(write_gdt(memory, kLongModeGdt, sregs));
  sregs.cs = code_segment(0x10, true);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data_segment(0x18);
  sregs.tr = tss_segment();
  sregs.cr0 = kCr0Pe | kCr0Et | kCr0Ne | kCr0Pg;
  sregs.cr3 = e.page_tables;
  sregs.cr4 = kCr4Pae;
  sregs.efer = kEferLme | kEferLma;
  TIDE_TRY(vcpu.set_sregs(sregs));
  kvm_regs regs{};
  regs.rip = e.rip;
  regs.rsp = e.rsp;
  regs.rdi = e.rdi;
  regs.rflags = 0x2;
  TIDE_TRY(vcpu.set_regs(regs));
  // With the in-kernel LAPIC, application processors start waiting for INIT/SIPI; a vCPU
  // entered directly is runnable at once.
  TIDE_TRY(vcpu.set_mp_state(KVM_MP_STATE_RUNNABLE));
  if (host == HostKind::pvm) {
    // Without a VIF page a PVM vCPU in kernel mode is emulated; bit 10 tells PVM that the
    // mode state set above is explicit (PVM.md).
    TIDE_TRY_ASSIGN(vif, memory.host_range(gmm::Gpa(e.vif_page), 4096));
    std::fill(vif.begin(), vif.end(), std::byte{0});
    const std::pair<uint32_t, uint64_t> msrs[] = {
        {kMsrStar, kLinuxStar}, {kvm_abi::kMsrPvmVif, e.vif_page | kvm_abi::kPvmVifExplicitMode}};
    TIDE_TRY(vcpu.set_msrs(msrs));
  }
  return ok();
}

std::vector<kvm_cpuid_entry2> cpuid_for_vcpu(const std::vector<kvm_cpuid_entry2>& supported, uint32_t index,
                                             uint32_t nr_vcpus) {
  std::vector<kvm_cpuid_entry2> out = supported;
  for (kvm_cpuid_entry2& e : out) {
    switch (e.function) {
      case 1:
        e.ebx = (e.ebx & 0x0000ffff) | (index << 24) | (std::min<uint32_t>(nr_vcpus, 255) << 16);
        e.ecx |= 1u << 31;  // running under a hypervisor
        break;
      case 0xb:
      case 0x1f:
        e.edx = index;  // x2APIC ID
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace tide::vmm
