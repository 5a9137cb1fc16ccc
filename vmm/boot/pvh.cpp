#include "vmm/boot/pvh.hpp"

#include <algorithm>
#include <cstring>

#include "guestmm/base/log.hpp"
#include "vmm/machine/layout.hpp"

namespace tide::vmm {

std::vector<HvmMemmapEntry> build_memmap(const std::vector<gmm::RamRange>& ram) {
  std::vector<HvmMemmapEntry> out;
  for (const gmm::RamRange& r : ram) {
    uint64_t start = r.base.value(), end = start + r.size_bytes;
    if (start < layout::kHighMemoryStart) {
      out.push_back({start, std::min(end, layout::kEbdaStart) - start, XEN_HVM_MEMMAP_TYPE_RAM, 0});
      if (end > layout::kEbdaStart) {
        out.push_back({layout::kEbdaStart, layout::kHighMemoryStart - layout::kEbdaStart,
                       XEN_HVM_MEMMAP_TYPE_RESERVED, 0});
      }
      start = layout::kHighMemoryStart;
    }
    if (end > start) out.push_back({start, end - start, XEN_HVM_MEMMAP_TYPE_RAM, 0});
  }
  out.push_back({layout::kEcamBase, layout::kEcamSize, XEN_HVM_MEMMAP_TYPE_RESERVED, 0});
  std::sort(out.begin(), out.end(), [](const HvmMemmapEntry& a, const HvmMemmapEntry& b) { return a.addr < b.addr; });
  return out;
}

Status write_pvh_start_info(const gmm::GuestMemory& memory, const PvhBootInfo& info) {
  if (info.cmdline.size() + 1 > layout::kCmdlineMax) {
    return make_error(std::errc::argument_list_too_long,
                      log::strf("kernel command line is %zu bytes; the limit is %llu", info.cmdline.size(),
                                static_cast<unsigned long long>(layout::kCmdlineMax - 1)));
  }
  auto memmap = build_memmap(info.ram);
  if (memmap.size() * sizeof(HvmMemmapEntry) > layout::kModlist - layout::kMemmap) {
    return make_error(std::errc::invalid_argument, "memory map too large");
  }
  HvmStartInfo si{};
  si.magic = XEN_HVM_START_MAGIC_VALUE;
  si.version = 1;
  si.nr_modules = static_cast<uint32_t>(info.modules.size());
  si.modlist_paddr = info.modules.empty() ? 0 : layout::kModlist;
  si.cmdline_paddr = layout::kCmdline;
  si.rsdp_paddr = info.rsdp_paddr;
  si.memmap_paddr = layout::kMemmap;
  si.memmap_entries = static_cast<uint32_t>(memmap.size());
  TIDE_TRY(memory.write_obj(gmm::Gpa(layout::kStartInfo), si));
  TIDE_TRY(memory.write(gmm::Gpa(layout::kMemmap), std::as_bytes(std::span(memmap))));
  for (size_t i = 0; i < info.modules.size(); ++i) {
    HvmModlistEntry m{info.modules[i].paddr, info.modules[i].size_bytes, 0, 0};
    TIDE_TRY(memory.write_obj(gmm::Gpa(layout::kModlist + i * sizeof m), m));
  }
  std::vector<std::byte> cmd(info.cmdline.size() + 1, std::byte{0});
  std::memcpy(cmd.data(), info.cmdline.data(), info.cmdline.size());
  TIDE_TRY(memory.write(gmm::Gpa(layout::kCmdline), cmd));
  return ok();
}

}  // namespace tide::vmm
