// PciConfigSpace: the register file of one PCI function's configuration space (type 0
// header, capability list, BARs), as the PCI Local Bus Specification 3.0 §6 lays it out.
// Owns the bytes plus a per-bit writable mask, so guest writes can only change what the
// spec lets them change; the BAR sizing protocol (§6.2.5.1) falls out of the BAR masks.
// Not synchronized: the owning device serializes access with its own lock.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "guestmm/base/error.hpp"

namespace tide::dev {

// Type 0 header offsets and bits (PCI Local Bus Spec 3.0 §6.1, §6.2).
inline constexpr uint32_t kPciVendorId = 0x00;
inline constexpr uint32_t kPciDeviceId = 0x02;
inline constexpr uint32_t kPciCommand = 0x04;
inline constexpr uint32_t kPciStatus = 0x06;
inline constexpr uint32_t kPciRevisionId = 0x08;
inline constexpr uint32_t kPciClassCode = 0x09;  // 3 bytes: prog-if, subclass, base class
inline constexpr uint32_t kPciCacheLineSize = 0x0c;
inline constexpr uint32_t kPciLatencyTimer = 0x0d;
inline constexpr uint32_t kPciHeaderType = 0x0e;
inline constexpr uint32_t kPciBar0 = 0x10;
inline constexpr uint32_t kPciSubsystemVendorId = 0x2c;
inline constexpr uint32_t kPciSubsystemId = 0x2e;
inline constexpr uint32_t kPciCapabilitiesPointer = 0x34;
inline constexpr uint32_t kPciInterruptLine = 0x3c;
inline constexpr uint32_t kPciInterruptPin = 0x3d;
inline constexpr uint32_t kPciFirstCapability = 0x40;  // first byte after the header

inline constexpr uint16_t kPciCommandIo = 1u << 0;
inline constexpr uint16_t kPciCommandMemory = 1u << 1;
inline constexpr uint16_t kPciCommandBusMaster = 1u << 2;
inline constexpr uint16_t kPciStatusCapabilitiesList = 1u << 4;

inline constexpr uint32_t kPciNumBars = 6;
inline constexpr uint32_t kPciBarIo = 1u << 0;            // BAR bit 0: I/O space
inline constexpr uint32_t kPciBarMem64 = 2u << 1;         // BAR bits 2:1 = 10b: 64-bit
inline constexpr uint32_t kPciBarPrefetchable = 1u << 3;  // BAR bit 3

inline constexpr uint8_t kPciCapIdVendor = 0x09;  // vendor-specific capability
inline constexpr uint8_t kPciCapIdMsix = 0x11;

enum class PciBarKind : uint8_t { kMemory32, kMemory64, kIo };

// One BAR as the device defines it. A 64-bit BAR at index i also occupies i + 1.
struct PciBarDefinition {
  uint64_t size_bytes = 0;  // power of two (>= 16 for memory, >= 4 for I/O); 0 = none
  PciBarKind kind = PciBarKind::kMemory32;
  bool prefetchable = false;

  [[nodiscard]] bool implemented() const { return size_bytes != 0; }
  [[nodiscard]] bool is_io() const { return kind == PciBarKind::kIo; }
  bool operator==(const PciBarDefinition&) const = default;
};

struct PciIdentity {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint8_t revision = 0;
  uint32_t class_code = 0;  // base class << 16 | subclass << 8 | programming interface
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
};

class PciConfigSpace {
 public:
  static constexpr uint32_t kConventionalSize = 256;
  static constexpr uint32_t kExtendedSize = 4096;  // PCIe, reachable through ECAM only

  // A type 0 header with `identity`, no BARs, no capabilities, decoding off.
  explicit PciConfigSpace(const PciIdentity& identity, uint32_t size_bytes = kConventionalSize);

  [[nodiscard]] uint32_t size() const { return static_cast<uint32_t>(bytes_.size()); }

  // Set-up only (before the device is on a bus). Asserts on a malformed definition.
  void define_bar(uint32_t index, const PciBarDefinition& def);
  // The upper half of a 64-bit BAR and unused slots report an unimplemented BAR.
  [[nodiscard]] PciBarDefinition bar_definition(uint32_t index) const;

  // Appends a capability to the list (dword aligned, from 0x40) and returns its offset.
  // `body` starts with the capability ID; its second byte (next pointer) is filled in.
  // `writable` is a per-bit mask the same length as `body` (empty: read-only). Set-up only.
  uint32_t add_capability(std::span<const uint8_t> body, std::span<const uint8_t> writable = {});

  // Guest accesses: any width and offset; bytes beyond size() read 0 and drop on write.
  void read(uint32_t offset, std::span<uint8_t> data) const;
  void write(uint32_t offset, std::span<const uint8_t> data);

  // Owner access to registers, bypassing the masks (little-endian, width 1, 2 or 4).
  [[nodiscard]] uint32_t load(uint32_t offset, uint32_t width) const;
  void store(uint32_t offset, uint32_t width, uint32_t value);

  [[nodiscard]] uint16_t command() const { return static_cast<uint16_t>(load(kPciCommand, 2)); }
  // The address programmed into BAR `index` (both halves for a 64-bit BAR), flags removed.
  [[nodiscard]] uint64_t bar_address(uint32_t index) const;
  // Where the BAR decodes now: nullopt if unimplemented, its decode bit in the command
  // register is clear, its address is 0 (unassigned) or the range wraps past 2^64.
  [[nodiscard]] std::optional<uint64_t> bar_decode_address(uint32_t index) const;
  // Firmware-style assignment: programs the BAR and sets its decode bit. Set-up only;
  // asserts that `address` is aligned to the BAR size.
  void assign_bar(uint32_t index, uint64_t address);

  // BAR flag bits match the definitions, masks keep read-only registers read-only,
  // the capability list is well formed.
  [[nodiscard]] Status check_invariants() const;

 private:
  [[nodiscard]] uint64_t bar_mask(uint32_t index) const;  // address bits the guest may set
  [[nodiscard]] uint32_t bar_flags(uint32_t index) const;
  void set_bar_bytes(uint32_t index);

  std::vector<uint8_t> bytes_;
  std::vector<uint8_t> writable_;
  std::array<PciBarDefinition, kPciNumBars> bars_{};
  std::array<bool, kPciNumBars> upper_half_{};  // slot is the high dword of a 64-bit BAR
  uint32_t next_capability_ = kPciFirstCapability;
  uint32_t last_capability_ = 0;
};

}  // namespace tide::dev
