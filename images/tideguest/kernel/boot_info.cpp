// Copying the PVH start_info handoff (see boot_info.hpp). The loader's pointers are
// physical addresses; the identity map covers the first 1 GiB, where loaders put them.
#include "kernel/boot_info.hpp"

#include "lib/string.hpp"

namespace tg {
namespace {

BootInfo g_boot_info;

template <typename T>
const T* at(uint64_t paddr) {
  return reinterpret_cast<const T*>(paddr);
}

}  // namespace

BootInfo& boot_info() { return g_boot_info; }

void BootInfo::add_extent(uint64_t base, uint64_t size) {
  if (size != 0 && extent_count_ < kMaxLoaderExtents) extents_[extent_count_++] = {base, size};
}

bool BootInfo::parse(uint64_t start_info_paddr, const char** error) {
  const auto* si = at<hvm_start_info>(start_info_paddr);
  if (si->magic != XEN_HVM_START_MAGIC_VALUE) {
    *error = "bad hvm_start_info magic (not booted through PVH?)";
    return false;
  }
  start_info_paddr_ = start_info_paddr;
  version_ = si->version;
  rsdp_paddr_ = si->rsdp_paddr;
  add_extent(start_info_paddr, sizeof(hvm_start_info));

  if (si->cmdline_paddr != 0) {
    const char* src = at<char>(si->cmdline_paddr);
    size_t n = 0;
    while (n + 1 < kMaxCmdline && src[n] != '\0') ++n;
    memcpy(cmdline_, src, n);
    cmdline_[n] = '\0';
    add_extent(si->cmdline_paddr, n + 1);
  }

  if (si->version < 1 || si->memmap_paddr == 0 || si->memmap_entries == 0) {
    *error = "hvm_start_info has no memory map (version 0)";
    return false;
  }
  memmap_count_ = si->memmap_entries < kMaxMemmapEntries ? si->memmap_entries : kMaxMemmapEntries;
  memcpy(memmap_, at<hvm_memmap_table_entry>(si->memmap_paddr),
         memmap_count_ * sizeof(hvm_memmap_table_entry));
  add_extent(si->memmap_paddr, si->memmap_entries * sizeof(hvm_memmap_table_entry));

  if (si->nr_modules != 0 && si->modlist_paddr != 0) {
    module_count_ = si->nr_modules < kMaxModules ? si->nr_modules : kMaxModules;
    memcpy(modules_, at<hvm_modlist_entry>(si->modlist_paddr),
           module_count_ * sizeof(hvm_modlist_entry));
    add_extent(si->modlist_paddr, si->nr_modules * sizeof(hvm_modlist_entry));
    for (size_t i = 0; i < module_count_; ++i) add_extent(modules_[i].paddr, modules_[i].size);
  }
  return true;
}

}  // namespace tg
