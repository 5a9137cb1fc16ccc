#include "vmm/config/domain_xml_unsupported.hpp"

#include <array>
#include <utility>

namespace tide::vmm {
namespace {

struct Entry {
  std::string_view path;
  Severity severity;
  std::string_view reason;
};

constexpr Severity kW = Severity::warning;
constexpr Severity kE = Severity::error;

// Memory-related elements (errors) first, then the rest (warnings), roughly in the order
// formatdomain documents them.
constexpr std::array kTable{
    Entry{"maxMemory", kE, "tide has no memory hotplug, so there is no hotplug ceiling to set"},
    Entry{"numatune", kE, "tide's guest is one NUMA node and tide sets no host NUMA policy"},
    Entry{"cpu/numa", kE, "tide's guest is one NUMA node"},
    Entry{"devices/memory", kE, "tide has no memory devices (dimm, nvdimm, virtio-mem, virtio-pmem, sgx-epc)"},
    Entry{"launchSecurity", kE, "tide has no encrypted guest memory (SEV, SEV-SNP, TDX, s390 PV)"},

    Entry{"devices/disk", kW, "tide has no block devices"},
    Entry{"devices/interface", kW, "tide has no network devices"},
    Entry{"devices/controller", kW, "tide has its own PCIe root and no other controllers"},
    Entry{"devices/graphics", kW, "tide has no display"},
    Entry{"devices/video", kW, "tide has no display"},
    Entry{"devices/input", kW, "tide has no input devices"},
    Entry{"devices/sound", kW, "tide has no sound devices"},
    Entry{"devices/audio", kW, "tide has no sound devices"},
    Entry{"devices/hostdev", kW, "tide has no device assignment"},
    Entry{"devices/channel", kW, "tide has no virtio-serial channels (no guest agent)"},
    Entry{"devices/watchdog", kW, "tide has no watchdog"},
    Entry{"devices/emulator", kW, "tide is the emulator"},
    Entry{"devices/filesystem", kW, "tide has no shared filesystems"},
    Entry{"devices/tpm", kW, "tide has no TPM"},
    Entry{"devices/smartcard", kW, "tide has no USB"},
    Entry{"devices/redirdev", kW, "tide has no USB"},
    Entry{"devices/redirfilter", kW, "tide has no USB"},
    Entry{"devices/hub", kW, "tide has no USB"},
    Entry{"devices/panic", kW, "tide has no panic device"},
    Entry{"devices/shmem", kW, "tide has no shared-memory devices"},
    Entry{"devices/iommu", kW, "tide has no IOMMU"},
    Entry{"devices/vsock", kW, "tide has no vsock"},
    Entry{"devices/crypto", kW, "tide has no crypto devices"},
    Entry{"devices/parallel", kW, "tide has no parallel port"},
    Entry{"devices/lease", kW, "tide takes no lock-manager leases"},
    Entry{"features", kW, "tide's machine has a fixed feature set"},
    Entry{"clock", kW, "tide has no clock settings (the guest uses KVM's clock)"},
    Entry{"cpu", kW, "tide does not set a CPU model, features or topology"},
    Entry{"cputune", kW, "tide does not tune or pin vCPU threads"},
    Entry{"vcpus", kW, "tide has no vCPU hotplug"},
    Entry{"iothreads", kW, "tide has no I/O threads"},
    Entry{"iothreadids", kW, "tide has no I/O threads"},
    Entry{"defaultiothread", kW, "tide has no I/O threads"},
    Entry{"blkiotune", kW, "tide has no block devices"},
    Entry{"resource/fibrechannel", kW, "tide has no Fibre Channel"},
    Entry{"sysinfo", kW, "tide has no SMBIOS tables"},
    Entry{"on_poweroff", kW, "tide has its own lifecycle actions"},
    Entry{"on_reboot", kW, "tide has its own lifecycle actions"},
    Entry{"on_crash", kW, "tide has its own lifecycle actions"},
    Entry{"on_lockfailure", kW, "tide has its own lifecycle actions"},
    Entry{"pm", kW, "tide has no ACPI sleep states"},
    Entry{"perf", kW, "tide collects no perf events"},
    Entry{"seclabel", kW, "tide applies no security labels"},
    Entry{"genid", kW, "tide has no VM generation ID"},
    Entry{"bootloader", kW, "tide boots os/kernel, or tideguest when there is none"},
    Entry{"bootloader_args", kW, "tide boots os/kernel, or tideguest when there is none"},
    Entry{"os/boot", kW, "tide boots os/kernel, or tideguest when there is none, not a disk"},
    Entry{"os/loader", kW, "tide has no firmware: it boots os/kernel, or tideguest when there is none"},
    Entry{"os/nvram", kW, "tide has no firmware: it boots os/kernel, or tideguest when there is none"},
    Entry{"os/firmware", kW, "tide has no firmware: it boots os/kernel, or tideguest when there is none"},
    Entry{"os/bootmenu", kW, "tide has no boot menu"},
    Entry{"os/smbios", kW, "tide has no SMBIOS tables"},
    Entry{"os/bios", kW, "tide has no BIOS"},
};

}  // namespace

UnsupportedElement unsupported_element(std::string_view path) {
  for (const Entry& e : kTable) {
    if (e.path == path) return UnsupportedElement{e.severity, std::string(e.reason)};
  }
  if (path.starts_with("memoryBacking/")) {
    return UnsupportedElement{Severity::error, "tide does not know this memoryBacking setting"};
  }
  if (path.starts_with("memtune/")) {
    return UnsupportedElement{Severity::error, "tide does not know this memtune setting"};
  }
  return UnsupportedElement{Severity::warning, "tide does not implement it"};
}

}  // namespace tide::vmm
