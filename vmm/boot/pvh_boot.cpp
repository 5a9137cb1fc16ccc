#include "vmm/boot/pvh_boot.hpp"

#include "guestmm/base/log.hpp"
#include "vmm/boot/acpi.hpp"
#include "vmm/boot/cpu_setup.hpp"
#include "vmm/boot/elf_image.hpp"
#include "vmm/boot/pvh.hpp"
#include "vmm/machine/layout.hpp"

namespace tide::vmm {
namespace {

constexpr uint64_t kMaxKernelBytes = 512 * layout::kMiB;
constexpr uint64_t kMaxInitrdBytes = 2 * layout::kGiB;

}  // namespace

Result<BootReport> boot_pvh(Vm& vm, const KernelBoot& boot) {
  const gmm::GuestMemory mem = vm.memory();
  TIDE_TRY_ASSIGN(file, read_file(boot.kernel_path, kMaxKernelBytes));
  auto image = parse_elf(file);
  if (!image) return prefixed(image.error(), boot.kernel_path);
  if (!image->pvh_entry) {
    return make_error(std::errc::invalid_argument,
                      boot.kernel_path + ": not an ELF with a PVH note (XEN_ELFNOTE_PHYS32_ENTRY); "
                                         "tide boots PVH kernels such as a Linux vmlinux built with CONFIG_PVH");
  }
  if (image->lowest_paddr < layout::kHighMemoryStart) {
    return make_error(std::errc::invalid_argument, boot.kernel_path + ": loads below 1 MiB, over tide's boot data");
  }
  if (auto st = load_elf(*image, file, mem); !st) return prefixed(st.error(), boot.kernel_path);

  BootReport report;
  report.entry = *image->pvh_entry;
  report.kernel_low = image->lowest_paddr;
  report.kernel_high = image->highest_paddr;

  PvhBootInfo info;
  info.cmdline = boot.cmdline;
  info.ram = vm.ram_ranges();
  const uint64_t low_end = info.ram.front().base.value() + info.ram.front().size_bytes;
  if (!boot.initrd_path.empty()) {
    TIDE_TRY_ASSIGN(initrd, read_file(boot.initrd_path, kMaxInitrdBytes));
    uint64_t at = gmm::align_down(low_end - std::min<uint64_t>(low_end, initrd.size()), gmm::kPageSize);
    if (initrd.size() > low_end || at < gmm::align_up(image->highest_paddr, gmm::kPageSize)) {
      return make_error(std::errc::no_buffer_space,
                        boot.initrd_path + ": the initrd does not fit in guest RAM above the kernel");
    }
    TIDE_TRY(mem.write(gmm::Gpa(at), initrd));
    info.modules.push_back(PvhModule{at, initrd.size()});
    report.initrd_paddr = at;
    report.initrd_bytes = initrd.size();
  }

  AcpiConfig acpi;
  acpi.nr_vcpus = vm.config().nr_vcpus;
  acpi.ecam_base = layout::kEcamBase;
  acpi.ecam_last_bus = static_cast<uint8_t>((layout::kEcamSize >> 20) - 1);
  acpi.ioapic_base = layout::kIoapicBase;
  acpi.lapic_base = layout::kLapicBase;
  auto tables = build_acpi_tables(layout::kAcpiBase, acpi);
  if (tables.size() > layout::kAcpiMax) return make_error(std::errc::value_too_large, "ACPI tables too large");
  TIDE_TRY(mem.write(gmm::Gpa(layout::kAcpiBase), tables));
  info.rsdp_paddr = layout::kAcpiBase;

  TIDE_TRY(write_pvh_start_info(mem, info));
  TIDE_TRY(setup_pvh_entry(vm.vcpu(0), mem, report.entry, layout::kStartInfo));
  return report;
}

}  // namespace tide::vmm
