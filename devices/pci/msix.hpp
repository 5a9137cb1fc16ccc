// MsixTable: the MSI-X table, pending bit array and control bits of one PCI function
// (PCI Local Bus Spec 3.0 §6.8.2). Each table entry owns one MsiVector (a KVM route in
// the VMM). A message is pushed to its vector when the entry is (or becomes) unmasked
// with MSI-X enabled; a signal while masked sets the entry's pending bit, and unmasking
// delivers it. Not synchronized: the owning device serializes access with its own lock
// (vCPU table writes race with event-thread signals otherwise).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "devices/interrupts.hpp"
#include "guestmm/base/error.hpp"

namespace tide::dev {

// PCI Local Bus Spec 3.0 §6.8.2.3 (Message Control) and §6.8.2.9 (Vector Control).
inline constexpr uint16_t kMsixControlEnable = 1u << 15;
inline constexpr uint16_t kMsixControlFunctionMask = 1u << 14;
inline constexpr uint32_t kMsixVectorControlMask = 1u << 0;
inline constexpr uint32_t kMsixEntrySize = 16;
inline constexpr uint32_t kMsixCapabilitySize = 12;
inline constexpr uint32_t kMsixCapabilityControl = 2;  // offset of Message Control in the capability

class MsixTable {
 public:
  struct Counters {
    uint64_t delivered = 0;           // MsiVector::trigger() calls
    uint64_t set_pending = 0;         // signals recorded while masked
    uint64_t route_failures = 0;      // MsiVector::set_message() errors
    uint64_t malformed_accesses = 0;  // table/PBA accesses of a width or alignment the spec forbids
  };

  // One entry per vector; at most 2048 (the spec's limit). Entries start masked.
  explicit MsixTable(std::vector<std::unique_ptr<MsiVector>> vectors);

  [[nodiscard]] uint16_t size() const { return static_cast<uint16_t>(entries_.size()); }
  [[nodiscard]] uint64_t table_size_bytes() const { return uint64_t{kMsixEntrySize} * entries_.size(); }
  [[nodiscard]] uint64_t pba_size_bytes() const { return 8 * ((entries_.size() + 63) / 64); }

  // The 12-byte capability (ID 0x11) for a table and PBA in BAR `bir` at the given
  // offsets, and the mask of its guest-writable bits (enable and function mask).
  [[nodiscard]] std::array<uint8_t, kMsixCapabilitySize> capability(uint8_t bir, uint32_t table_offset,
                                                                    uint32_t pba_offset) const;
  [[nodiscard]] static std::array<uint8_t, kMsixCapabilitySize> capability_writable_mask();

  // Table and PBA accesses relative to their start: 4 bytes dword-aligned or 8 bytes
  // qword-aligned; anything else reads 0 and is counted. PBA writes are ignored.
  void read_table(uint64_t offset, std::span<uint8_t> data) const;
  void write_table(uint64_t offset, std::span<const uint8_t> data);
  void read_pba(uint64_t offset, std::span<uint8_t> data) const;

  // Applies the guest's Message Control register (enable, function mask).
  void set_control(uint16_t message_control);
  [[nodiscard]] bool enabled() const { return enabled_; }
  [[nodiscard]] bool function_masked() const { return function_masked_; }

  // Raises entry `index`: delivered now, or left pending while masked. Returns false (and
  // does nothing) when MSI-X is disabled or `index` is out of range.
  bool signal(uint16_t index);

  [[nodiscard]] MsiMessage message(uint16_t index) const;
  [[nodiscard]] bool entry_masked(uint16_t index) const;
  [[nodiscard]] bool pending(uint16_t index) const;
  [[nodiscard]] const Counters& counters() const { return counters_; }
  // No live (enabled, unmasked) entry holds a pending bit, and every live entry that has a
  // route routes its current message.
  [[nodiscard]] Status check_invariants() const;

 private:
  struct Entry {
    std::unique_ptr<MsiVector> vector;
    uint32_t address_lo = 0;
    uint32_t address_hi = 0;
    uint32_t data = 0;
    uint32_t control = kMsixVectorControlMask;
    bool pending = false;
    bool routed = false;  // `routed_message` is what the vector delivers
    MsiMessage routed_message;
  };

  [[nodiscard]] bool masked(const Entry& e) const;
  // Pushes the message if it changed and, when unmasked, delivers a pending signal.
  void update(Entry& e);
  bool route(Entry& e);
  [[nodiscard]] uint32_t read_dword(uint64_t offset) const;
  void write_dword(uint64_t offset, uint32_t value);

  std::vector<Entry> entries_;
  bool enabled_ = false;
  bool function_masked_ = false;
  bool logged_route_failure_ = false;
  mutable Counters counters_;  // metrics; reads count malformed accesses too
};

}  // namespace tide::dev
