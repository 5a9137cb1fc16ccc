// PCI enumeration and BAR set-up over ECAM (see pci.hpp).
#include "dev/pci.hpp"

#include "arch/paging.hpp"
#include "dev/acpi.hpp"

namespace tg::dev {
namespace {

constexpr uint64_t kDefaultEcamBase = 0xe0000000;
constexpr uint64_t kEcamBusBytes = 1ull << 20;
constexpr uint64_t kMmioWindowBase = 0xc0000000;
constexpr uint64_t kMmioWindowEnd = 0xe0000000;
constexpr size_t kMaxFunctions = 64;
constexpr size_t kMaxBars = kMaxFunctions * 6;
constexpr uint16_t PCI_VENDOR_ID = 0x00;
constexpr uint16_t PCI_CLASS_REVISION = 0x08;
constexpr uint16_t PCI_HEADER_TYPE = 0x0e;
constexpr uint16_t PCI_SUBSYSTEM_ID = 0x2e;
constexpr uint8_t PCI_HEADER_TYPE_MULTI = 0x80;
constexpr uint8_t PCI_HEADER_TYPE_MASK = 0x7f;
constexpr uint32_t PCI_BASE_ADDRESS_SPACE_IO = 0x1;
constexpr uint32_t PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4;
constexpr uint32_t PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8;

struct Range {
  uint64_t base, end;
};

bool g_initialized = false;
uint64_t g_ecam = kDefaultEcamBase;
bool g_ecam_from_acpi = false;
PciFunction g_functions[kMaxFunctions];
size_t g_function_count = 0;
// Memory BAR ranges in use (filled on the first assignment).
Range g_used[kMaxBars];
size_t g_used_count = 0;
bool g_used_known = false;
uint64_t g_window_cursor = kMmioWindowBase;

template <typename T>
volatile T* reg(uint64_t config, uint16_t offset) {
  return reinterpret_cast<volatile T*>(config + offset);
}

uint64_t config_address(uint8_t bus, uint8_t device, uint8_t function) {
  return g_ecam + (uint64_t{bus} << 20) + (uint64_t{device} << 15) + (uint64_t{function} << 12);
}

void add_function(uint8_t device, uint8_t function, uint32_t id) {
  if (g_function_count == kMaxFunctions) return;
  PciFunction& f = g_functions[g_function_count++];
  f.bus = 0;
  f.device = device;
  f.function = function;
  f.config = config_address(0, device, function);
  f.vendor_id = static_cast<uint16_t>(id);
  f.device_id = static_cast<uint16_t>(id >> 16);
  uint32_t cr = f.read32(PCI_CLASS_REVISION);
  f.revision = static_cast<uint8_t>(cr);
  f.prog_if = static_cast<uint8_t>(cr >> 8);
  f.subclass = static_cast<uint8_t>(cr >> 16);
  f.class_code = static_cast<uint8_t>(cr >> 24);
  f.subsystem_id = f.read16(PCI_SUBSYSTEM_ID);
}

void collect_used_ranges() {
  g_used_known = true;
  for (size_t i = 0; i < g_function_count; ++i) {
    const PciFunction& f = g_functions[i];
    if (!f.is_endpoint()) continue;
    for (unsigned b = 0; b < 6; ++b) {
      // Only assigned BARs occupy space; sizing one costs about ten configuration
      // accesses (each a VM exit), so unassigned ones are not sized.
      PciBar bar = pci_read_bar(f, b, false);
      if (!bar.io && bar.base != 0) bar = pci_read_bar(f, b, true);
      if (bar.present && !bar.io && bar.base != 0 && bar.size != 0 && g_used_count < kMaxBars)
        g_used[g_used_count++] = {bar.base, bar.base + bar.size};
      if (bar.is64) ++b;
    }
  }
}

uint64_t allocate_window(uint64_t size) {
  if (!g_used_known) collect_used_ranges();
  uint64_t candidate = (g_window_cursor + size - 1) & ~(size - 1);
  for (bool moved = true; moved;) {
    moved = false;
    for (size_t i = 0; i < g_used_count; ++i) {
      if (candidate < g_used[i].end && candidate + size > g_used[i].base) {
        candidate = (g_used[i].end + size - 1) & ~(size - 1);
        moved = true;
      }
    }
  }
  if (candidate + size > kMmioWindowEnd) return 0;
  g_window_cursor = candidate + size;
  if (g_used_count < kMaxBars) g_used[g_used_count++] = {candidate, candidate + size};
  return candidate;
}

}  // namespace

bool PciFunction::is_endpoint() const {
  return (read8(PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK) == 0;
}

uint8_t PciFunction::read8(uint16_t offset) const { return *reg<uint8_t>(config, offset); }
uint16_t PciFunction::read16(uint16_t offset) const { return *reg<uint16_t>(config, offset); }
uint32_t PciFunction::read32(uint16_t offset) const { return *reg<uint32_t>(config, offset); }
void PciFunction::write16(uint16_t offset, uint16_t value) const { *reg<uint16_t>(config, offset) = value; }
void PciFunction::write32(uint16_t offset, uint32_t value) const { *reg<uint32_t>(config, offset) = value; }

void pci_init() {
  if (g_initialized) return;
  g_initialized = true;
  const AcpiSummary& a = acpi();
  if (a.has_mcfg && a.ecam_start_bus == 0) {
    g_ecam = a.ecam_base;
    g_ecam_from_acpi = true;
  }
  arch::map_identity(g_ecam, kEcamBusBytes, arch::Caching::kUncached);
  for (uint8_t device = 0; device < 32; ++device) {
    uint32_t id = *reg<uint32_t>(config_address(0, device, 0), PCI_VENDOR_ID);
    if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) continue;
    add_function(device, 0, id);
    if (!(*reg<uint8_t>(config_address(0, device, 0), PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MULTI))
      continue;
    for (uint8_t function = 1; function < 8; ++function) {
      uint32_t fid = *reg<uint32_t>(config_address(0, device, function), PCI_VENDOR_ID);
      if ((fid & 0xffff) != 0xffff && (fid & 0xffff) != 0) add_function(device, function, fid);
    }
  }
}

uint64_t pci_ecam_base() { return g_ecam; }
bool pci_ecam_from_acpi() { return g_ecam_from_acpi; }
size_t pci_function_count() { return g_function_count; }
PciFunction& pci_function(size_t index) { return g_functions[index]; }

uint8_t pci_find_capability(const PciFunction& f, uint8_t id, uint8_t after) {
  if (!(f.read16(PCI_STATUS) & PCI_STATUS_CAP_LIST)) return 0;
  uint8_t offset = after == 0 ? f.read8(PCI_CAPABILITY_LIST) : f.read8(after + 1);
  // A malformed list could loop: bound the walk (at most 48 capabilities fit).
  for (int guard = 0; offset >= 0x40 && guard < 48; ++guard) {
    offset &= 0xfc;
    if (f.read8(offset) == id) return offset;
    offset = f.read8(offset + 1);
  }
  return 0;
}

PciBar pci_read_bar(const PciFunction& f, unsigned index, bool with_size) {
  PciBar bar;
  const uint16_t offset = static_cast<uint16_t>(PCI_BASE_ADDRESS_0 + 4 * index);
  uint32_t low = f.read32(offset);
  bar.io = (low & PCI_BASE_ADDRESS_SPACE_IO) != 0;
  bar.is64 = !bar.io && (low & 0x6) == PCI_BASE_ADDRESS_MEM_TYPE_64 && index < 5;
  bar.prefetchable = !bar.io && (low & PCI_BASE_ADDRESS_MEM_PREFETCH) != 0;
  uint64_t high = bar.is64 ? f.read32(static_cast<uint16_t>(offset + 4)) : 0;
  bar.base = (high << 32) | (low & (bar.io ? ~0x3u : ~0xfu));
  if (!with_size) {
    bar.present = low != 0 || high != 0;
    return bar;
  }
  uint16_t command = f.read16(PCI_COMMAND);
  f.write16(PCI_COMMAND, command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
  f.write32(offset, 0xffffffff);
  uint32_t mask_low = f.read32(offset);
  f.write32(offset, low);
  uint64_t mask_high = 0xffffffff;
  if (bar.is64) {
    f.write32(static_cast<uint16_t>(offset + 4), 0xffffffff);
    mask_high = f.read32(static_cast<uint16_t>(offset + 4));
    f.write32(static_cast<uint16_t>(offset + 4), static_cast<uint32_t>(high));
  }
  f.write16(PCI_COMMAND, command);
  uint64_t mask = (mask_high << 32) | (mask_low & (bar.io ? ~0x3u : ~0xfu));
  if (bar.io) mask |= 0xffffffffffff0000ull;  // I/O BARs decode 16 bits
  bar.size = (mask_low == 0) ? 0 : (~mask + 1);
  bar.present = bar.size != 0;
  return bar;
}

PciBar pci_setup_bar(const PciFunction& f, unsigned index) {
  PciBar bar = pci_read_bar(f, index, false);
  if (bar.io) return PciBar{};
  if (bar.base == 0) {
    bar = pci_read_bar(f, index, true);
    if (!bar.present || bar.io) return PciBar{};
    uint64_t base = allocate_window(bar.size);
    if (base == 0) return PciBar{};
    const uint16_t offset = static_cast<uint16_t>(PCI_BASE_ADDRESS_0 + 4 * index);
    uint16_t command = f.read16(PCI_COMMAND);
    f.write16(PCI_COMMAND, command & ~PCI_COMMAND_MEMORY);
    uint32_t flags = f.read32(offset) & 0xf;
    f.write32(offset, static_cast<uint32_t>(base) | flags);
    if (bar.is64) f.write32(static_cast<uint16_t>(offset + 4), static_cast<uint32_t>(base >> 32));
    f.write16(PCI_COMMAND, command);
    bar.base = base;
  }
  bar.present = true;
  // Size unknown for a pre-assigned BAR: map at least 2 MiB (map_identity's granule).
  if (!arch::map_identity(bar.base, bar.size != 0 ? bar.size : 1, arch::Caching::kUncached))
    return PciBar{};
  f.write16(PCI_COMMAND, f.read16(PCI_COMMAND) | PCI_COMMAND_MEMORY);
  return bar;
}

void pci_enable(const PciFunction& f) {
  f.write16(PCI_COMMAND, f.read16(PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

}  // namespace tg::dev
