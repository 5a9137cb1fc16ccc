// Initial vCPU state for the two ways tide starts a guest:
//  - PVH entry (the boot ABI): 32-bit protected mode, paging off, EBX = start info;
//  - direct long-mode entry (tests' tiny guests): 64-bit, identity-mapped first 4 GiB with
//    U/S=1 at every level, and on PVM the VIF page registered by the VMM (bit 10 set).
// And the CPUID each vCPU gets (KVM's supported set with its own APIC ID).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/guest_memory.hpp"
#include "vmm/kvm/host_kind.hpp"
#include "vmm/kvm/vcpu_fd.hpp"

namespace tide::vmm {

// Writes the boot GDT to guest RAM and sets registers for the PVH entry of the BSP.
[[nodiscard]] Status setup_pvh_entry(const VcpuFd& vcpu, const gmm::GuestMemory& memory,
                                     uint32_t entry, uint64_t start_info_paddr);

struct LongModeEntry {
  uint64_t rip = 0;
  uint64_t rsp = 0;
  uint64_t page_tables = 0x9000;  // PML4; PDPT and 4 PDs follow (6 pages)
  uint64_t vif_page = 0xF000;     // PVM only; a zeroed page in RAM
  uint64_t rdi = 0;               // first argument to the entry point (vCPU index)
};
// Builds identity page tables (first 4 GiB, 2 MiB pages, U/S=1) once per VM.
[[nodiscard]] Status write_identity_page_tables(const gmm::GuestMemory& memory, uint64_t at);
// Sets a vCPU straight into 64-bit mode at `e.rip`. The tables must have been written.
[[nodiscard]] Status setup_long_mode_entry(const VcpuFd& vcpu, const gmm::GuestMemory& memory,
                                           const LongModeEntry& e, HostKind host);

// KVM's supported CPUID adjusted for vCPU `index`: APIC IDs, the hypervisor bit.
[[nodiscard]] std::vector<kvm_cpuid_entry2> cpuid_for_vcpu(const std::vector<kvm_cpuid_entry2>& supported,
                                                          uint32_t index, uint32_t nr_vcpus);

}  // namespace tide::vmm
