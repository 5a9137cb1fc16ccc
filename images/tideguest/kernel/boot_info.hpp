// The PVH handoff: struct hvm_start_info (Xen's arch-x86/hvm/start_info.h) as the
// loader left it, copied into kernel memory at boot so later code never reads loader
// pages: the memory map, the command line and the module list. Also records which
// physical ranges hold those loader structures (the page allocator must skip them).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg {

// Spec names and values: xen/include/public/arch-x86/hvm/start_info.h.
inline constexpr uint32_t XEN_HVM_START_MAGIC_VALUE = 0x336ec578;
inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_RAM = 1;

struct hvm_start_info {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;  // version >= 1
  uint32_t memmap_entries;
  uint32_t reserved;
};

struct hvm_modlist_entry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};

struct hvm_memmap_table_entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};

struct PhysExtent {
  uint64_t base;
  uint64_t size;
};

class BootInfo {
 public:
  static constexpr size_t kMaxMemmapEntries = 64;
  static constexpr size_t kMaxModules = 8;
  static constexpr size_t kMaxCmdline = 4096;
  // start_info, memmap, cmdline, modlist, and each module.
  static constexpr size_t kMaxLoaderExtents = 4 + kMaxModules;

  // Copies what it needs out of the loader's structures. False (with *error set) when
  // the magic is wrong or there is no memory map (start_info version 0).
  bool parse(uint64_t start_info_paddr, const char** error);

  uint64_t start_info_paddr() const { return start_info_paddr_; }
  uint32_t version() const { return version_; }
  uint64_t rsdp_paddr() const { return rsdp_paddr_; }
  const char* cmdline() const { return cmdline_; }
  size_t memmap_count() const { return memmap_count_; }
  const hvm_memmap_table_entry& memmap(size_t i) const { return memmap_[i]; }
  size_t module_count() const { return module_count_; }
  const hvm_modlist_entry& module(size_t i) const { return modules_[i]; }
  // Physical ranges holding loader data (to keep out of the page allocator).
  size_t loader_extent_count() const { return extent_count_; }
  const PhysExtent& loader_extent(size_t i) const { return extents_[i]; }

 private:
  void add_extent(uint64_t base, uint64_t size);

  uint64_t start_info_paddr_ = 0;
  uint32_t version_ = 0;
  uint64_t rsdp_paddr_ = 0;
  char cmdline_[kMaxCmdline] = {};
  hvm_memmap_table_entry memmap_[kMaxMemmapEntries] = {};
  size_t memmap_count_ = 0;
  hvm_modlist_entry modules_[kMaxModules] = {};
  size_t module_count_ = 0;
  PhysExtent extents_[kMaxLoaderExtents] = {};
  size_t extent_count_ = 0;
};

BootInfo& boot_info();

}  // namespace tg
