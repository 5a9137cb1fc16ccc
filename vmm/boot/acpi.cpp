#include "vmm/boot/acpi.hpp"

#include <cstring>
#include <string_view>

namespace tide::vmm {
namespace {

// A byte buffer with little-endian appends and in-place patching.
class Writer {
 public:
  size_t size() const { return buf_.size(); }
  void align(size_t a) {
    while (buf_.size() % a) buf_.push_back(std::byte{0});
  }
  void u8(uint8_t v) { buf_.push_back(std::byte{v}); }
  void u16(uint16_t v) { put(&v, 2); }
  void u32(uint32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
  void str(std::string_view s, size_t n) {
    for (size_t i = 0; i < n; ++i) u8(i < s.size() ? static_cast<uint8_t>(s[i]) : ' ');
  }
  void zeros(size_t n) { buf_.insert(buf_.end(), n, std::byte{0}); }
  void patch32(size_t at, uint32_t v) { std::memcpy(buf_.data() + at, &v, 4); }
  void patch64(size_t at, uint64_t v) { std::memcpy(buf_.data() + at, &v, 8); }
  // Sets the byte at `at` so bytes [from, to) sum to zero.
  void checksum(size_t from, size_t to, size_t at) {
    uint8_t sum = 0;
    for (size_t i = from; i < to; ++i) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(buf_[i]));
    buf_[at] = std::byte{static_cast<uint8_t>(-sum)};
  }
  std::vector<std::byte> take() { return std::move(buf_); }

 private:
  void put(const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }
  std::vector<std::byte> buf_;
};

// Standard 36-byte description header; returns its offset. Length and checksum are set by
// finish().
size_t header(Writer& w, std::string_view sig, uint8_t revision) {
  w.align(8);
  size_t at = w.size();
  w.str(sig, 4);
  w.u32(0);  // length
  w.u8(revision);
  w.u8(0);  // checksum
  w.str("TIDE", 6);
  w.str("TIDEMACH", 8);
  w.u32(1);  // OEM revision
  w.str("TIDE", 4);
  w.u32(1);  // creator revision
  return at;
}

void finish(Writer& w, size_t at) {
  w.patch32(at + 4, static_cast<uint32_t>(w.size() - at));
  w.checksum(at, w.size(), at + 9);
}

}  // namespace

std::vector<std::byte> build_acpi_tables(uint64_t base, const AcpiConfig& c) {
  Writer w;
  // RSDP (ACPI 6.x §5.2.5.3), revision 2.
  w.str("RSD PTR ", 8);
  w.u8(0);  // checksum of the first 20 bytes
  w.str("TIDE", 6);
  w.u8(2);
  w.u32(0);  // RsdtAddress: none, XSDT only
  w.u32(36);
  size_t xsdt_ptr_at = w.size();
  w.u64(0);
  w.u8(0);  // extended checksum
  w.zeros(3);

  // DSDT: header only (no devices need describing in AML).
  size_t dsdt = header(w, "DSDT", 2);
  finish(w, dsdt);

  // FADT (§5.2.9), revision 6, hardware-reduced.
  size_t fadt = header(w, "FACP", 6);
  w.u32(0);                                   // FIRMWARE_CTRL
  w.u32(static_cast<uint32_t>(base + dsdt));  // DSDT
  w.zeros(76 - 44);                           // reserved .. legacy PM blocks (unused)
  w.zeros(109 - 76);                          // GPE/PM block lengths, C-states, century...
  w.u16(0);                                   // IAPC_BOOT_ARCH (offset 109)
  w.u8(0);                                    // reserved
  w.u32(1u << 20);                            // Flags: HW_REDUCED_ACPI
  w.zeros(12);                                // RESET_REG
  w.u8(0);                                    // RESET_VALUE
  w.u16(0);                                   // ARM_BOOT_ARCH
  w.u8(0);                                    // minor version
  w.u64(0);                                   // X_FIRMWARE_CTRL
  w.u64(base + dsdt);                         // X_DSDT
  w.zeros(268 - 148);                         // extended PM/GPE blocks, sleep regs
  w.u64(0);                                   // hypervisor vendor identity
  finish(w, fadt);

  // MADT (§5.2.12).
  size_t madt = header(w, "APIC", 5);
  w.u32(static_cast<uint32_t>(c.lapic_base));
  w.u32(1);  // PCAT_COMPAT: the in-kernel 8259s exist
  for (uint32_t i = 0; i < c.nr_vcpus; ++i) {
    w.u8(0);  // Processor Local APIC
    w.u8(8);
    w.u8(static_cast<uint8_t>(i));  // ACPI processor UID
    w.u8(static_cast<uint8_t>(i));  // APIC ID
    w.u32(1);                       // enabled
  }
  w.u8(1);  // I/O APIC
  w.u8(12);
  w.u8(static_cast<uint8_t>(c.nr_vcpus));  // IOAPIC ID after the CPUs
  w.u8(0);
  w.u32(static_cast<uint32_t>(c.ioapic_base));
  w.u32(0);  // GSI base
  finish(w, madt);

  // MCFG (PCI Firmware spec §4.1.2).
  size_t mcfg = header(w, "MCFG", 1);
  w.u64(0);
  w.u64(c.ecam_base);
  w.u16(0);  // segment
  w.u8(0);   // first bus
  w.u8(c.ecam_last_bus);
  w.u32(0);
  finish(w, mcfg);

  // XSDT (§5.2.8).
  size_t xsdt = header(w, "XSDT", 1);
  w.u64(base + fadt);
  w.u64(base + madt);
  w.u64(base + mcfg);
  finish(w, xsdt);

  w.patch64(xsdt_ptr_at, base + xsdt);
  w.checksum(0, 20, 8);
  w.checksum(0, 36, 32);
  return w.take();
}

}  // namespace tide::vmm
