// Boots an ELF kernel through PVH on a created Vm: loads its segments, places the initrd at
// the top of low RAM, writes the ACPI tables and the hvm_start_info hand-off, and points
// vCPU 0 at the PVH entry (the others wait for INIT/SIPI). Thread: the owner, before start.
#pragma once

#include <cstdint>
#include <string>

#include "guestmm/base/error.hpp"
#include "vmm/machine/vm.hpp"

namespace tide::vmm {

struct KernelBoot {
  std::string kernel_path;
  std::string cmdline;
  std::string initrd_path;  // optional
};

struct BootReport {
  uint32_t entry = 0;
  uint64_t kernel_low = 0, kernel_high = 0;
  uint64_t initrd_paddr = 0, initrd_bytes = 0;
};

// Errors: unreadable file, not an ELF, no PVH note ("not an ELF with a PVH note"), a kernel
// or initrd that does not fit in guest RAM, a command line that is too long.
[[nodiscard]] Result<BootReport> boot_pvh(Vm& vm, const KernelBoot& boot);

}  // namespace tide::vmm
