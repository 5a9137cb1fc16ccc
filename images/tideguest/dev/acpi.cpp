// ACPI table walk (see acpi.hpp). Layouts from the ACPI 6.5 specification, 5.2.
#include "dev/acpi.hpp"

#include "arch/paging.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"

namespace tg::dev {
namespace {

AcpiSummary g_acpi;

constexpr size_t kSdtHeaderBytes = 36;
constexpr size_t kMcfgEntriesOffset = 44;
constexpr size_t kMadtEntriesOffset = 44;
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtLocalX2Apic = 9;
constexpr uint32_t kMadtEnabled = 1;
constexpr uint32_t kMadtOnlineCapable = 2;

template <typename T>
T read(uint64_t address) {
  T value;
  memcpy(&value, reinterpret_cast<const void*>(address), sizeof(T));
  return value;
}

bool checksum_ok(uint64_t address, size_t length) {
  uint8_t sum = 0;
  for (size_t i = 0; i < length; ++i) sum = static_cast<uint8_t>(sum + read<uint8_t>(address + i));
  return sum == 0;
}

// Tables below 4 GiB outside RAM (e.g. at the top of the MMIO hole) need a mapping.
bool ensure_mapped(uint64_t address, uint64_t length) {
  if (arch::is_mapped(address) && arch::is_mapped(address + length - 1)) return true;
  return arch::map_identity(address, length, arch::Caching::kWriteBack);
}

bool rsdp_valid(uint64_t address) {
  return memcmp(reinterpret_cast<const void*>(address), "RSD PTR ", 8) == 0 &&
         checksum_ok(address, 20);
}

uint64_t find_rsdp() {
  uint64_t ebda = uint64_t{read<uint16_t>(0x40e)} << 4;
  if (ebda >= 0x80000 && ebda < 0xa0000) {
    for (uint64_t a = ebda; a < ebda + 1024; a += 16) {
      if (rsdp_valid(a)) return a;
    }
  }
  for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
    if (rsdp_valid(a)) return a;
  }
  return 0;
}

void parse_mcfg(uint64_t table, uint32_t length) {
  for (uint64_t e = table + kMcfgEntriesOffset; e + 16 <= table + length; e += 16) {
    uint16_t segment = read<uint16_t>(e + 8);
    if (segment != 0) continue;
    g_acpi.has_mcfg = true;
    g_acpi.ecam_base = read<uint64_t>(e);
    g_acpi.ecam_segment = segment;
    g_acpi.ecam_start_bus = read<uint8_t>(e + 10);
    g_acpi.ecam_end_bus = read<uint8_t>(e + 11);
    return;
  }
}

void parse_madt(uint64_t table, uint32_t length) {
  g_acpi.has_madt = true;
  for (uint64_t e = table + kMadtEntriesOffset; e + 2 <= table + length;) {
    uint8_t type = read<uint8_t>(e);
    uint8_t entry_length = read<uint8_t>(e + 1);
    if (entry_length < 2) break;
    uint32_t flags = 0;
    if (type == kMadtLocalApic && entry_length >= 8) flags = read<uint32_t>(e + 4);
    if (type == kMadtLocalX2Apic && entry_length >= 16) flags = read<uint32_t>(e + 8);
    if (flags & (kMadtEnabled | kMadtOnlineCapable)) ++g_acpi.cpu_count;
    e += entry_length;
  }
}

void parse_table(uint64_t table) {
  if (!ensure_mapped(table, kSdtHeaderBytes)) return;
  uint32_t length = read<uint32_t>(table + 4);
  if (length < kSdtHeaderBytes || !ensure_mapped(table, length)) return;
  char signature[5] = {};
  memcpy(signature, reinterpret_cast<const void*>(table), 4);
  if (!checksum_ok(table, length)) {
    kprintf("tideguest: acpi: table %s at 0x%lx has a bad checksum, ignored\n", signature, table);
    return;
  }
  if (g_acpi.table_count < AcpiSummary::kMaxTables) {
    memcpy(g_acpi.tables[g_acpi.table_count++], signature, 5);
  }
  if (memcmp(signature, "MCFG", 4) == 0) parse_mcfg(table, length);
  if (memcmp(signature, "APIC", 4) == 0) parse_madt(table, length);
}

}  // namespace

void acpi_init(uint64_t rsdp_paddr) {
  uint64_t rsdp = rsdp_paddr;
  if (rsdp != 0 && (!ensure_mapped(rsdp, 36) || !rsdp_valid(rsdp))) rsdp = 0;
  if (rsdp == 0) rsdp = find_rsdp();
  if (rsdp == 0) return;
  g_acpi.found = true;
  g_acpi.rsdp = rsdp;
  uint8_t revision = read<uint8_t>(rsdp + 15);
  uint64_t root = read<uint32_t>(rsdp + 16);
  size_t entry_size = 4;
  if (revision >= 2 && checksum_ok(rsdp, read<uint32_t>(rsdp + 20))) {
    uint64_t xsdt = read<uint64_t>(rsdp + 24);
    if (xsdt != 0) {
      root = xsdt;
      entry_size = 8;
      g_acpi.xsdt = true;
    }
  }
  if (root == 0 || !ensure_mapped(root, kSdtHeaderBytes)) return;
  uint32_t length = read<uint32_t>(root + 4);
  if (length < kSdtHeaderBytes || !ensure_mapped(root, length) || !checksum_ok(root, length)) {
    kprintf("tideguest: acpi: bad root table at 0x%lx\n", root);
    return;
  }
  for (uint64_t e = root + kSdtHeaderBytes; e + entry_size <= root + length; e += entry_size) {
    uint64_t table = entry_size == 8 ? read<uint64_t>(e) : read<uint32_t>(e);
    if (table != 0) parse_table(table);
  }
}

const AcpiSummary& acpi() { return g_acpi; }

}  // namespace tg::dev
