// The PVH boot ABI's hand-off (Xen public/arch-x86/hvm/start_info.h): hvm_start_info, the
// module list and the E820-style memory map that tide writes into guest RAM for the kernel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/guest_memory.hpp"
#include "guestmm/guest_ram.hpp"

namespace tide::vmm {

// Spec names, from Xen's start_info.h.
inline constexpr uint32_t XEN_HVM_START_MAGIC_VALUE = 0x336ec578;
inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_RAM = 1;
inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_RESERVED = 2;

struct HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;   // version 1
  uint32_t memmap_entries; // version 1
  uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);

struct HvmModlistEntry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32);

struct HvmMemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

struct PvhModule {
  uint64_t paddr = 0;
  uint64_t size_bytes = 0;
};

struct PvhBootInfo {
  std::string cmdline;
  std::vector<gmm::RamRange> ram;
  std::vector<PvhModule> modules;
  uint64_t rsdp_paddr = 0;
};

// The memory map the guest sees: RAM below the EBDA, the legacy hole reserved (ACPI tables
// live there), RAM from 1 MiB, the ECAM window reserved, and RAM above 4 GiB.
[[nodiscard]] std::vector<HvmMemmapEntry> build_memmap(const std::vector<gmm::RamRange>& ram);
// Writes start info, module list, memory map and command line at their layout addresses.
// Errors: command line too long, RAM too small for the boot data.
[[nodiscard]] Status write_pvh_start_info(const gmm::GuestMemory& memory, const PvhBootInfo& info);

}  // namespace tide::vmm
