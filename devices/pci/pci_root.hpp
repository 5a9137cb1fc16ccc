// PciRoot: PCI bus 0 of tide's machine. Owns the 32 device slots (the host bridge sits at
// 00:00.0), pre-assigns memory BARs from the MMIO32 window, routes config accesses from
// mechanism 1 and ECAM to the functions. Locking: one mutex serializes config accesses
// and BAR (re)mapping; lock order is root -> device -> bus. BAR MMIO does not take it.
//
// It keeps the buses in step with the guest: after every config write it re-registers each BAR whose decode address
// changed (Bus::remove old, Bus::insert new) and tells the device (PciDevice::bar_mapped). Only function 0 of each slot
// exists; other buses and functions read all ones.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "devices/bus.hpp"
#include "devices/pci/bar_allocator.hpp"
#include "devices/pci/pci_device.hpp"
#include "guestmm/base/error.hpp"

namespace tide::dev {

struct PciAddress {
  uint8_t bus = 0;
  uint8_t device = 0;    // 0..31
  uint8_t function = 0;  // 0..7
};

class PciRoot {
 public:
  // docs/machine.md: the PCI MMIO32 window.
  static constexpr uint64_t kMmio32Base = 0xC0000000;
  static constexpr uint64_t kMmio32Size = 0x20000000;
  static constexpr uint32_t kNumSlots = 32;

  // Memory BARs are registered on `mmio_bus`, I/O BARs on `pio_bus` when given (tide has
  // no I/O window, so I/O BARs are never pre-assigned). Both buses must outlive the root.
  explicit PciRoot(Bus& mmio_bus, Bus* pio_bus = nullptr, uint64_t window_base = kMmio32Base,
                   uint64_t window_size = kMmio32Size);
  ~PciRoot();
  PciRoot(const PciRoot&) = delete;
  PciRoot& operator=(const PciRoot&) = delete;

  // Plugs `device` into `slot` (or the lowest free slot from 1), assigns its memory BARs
  // (naturally aligned, 64-bit BARs too, all below 4 GiB), enables memory decoding and
  // maps the BARs on the bus. Returns the slot. Errors: invalid_argument (slot taken or
  // out of range), not_enough_memory (window full), device_or_resource_busy (no free slot).
  // Thread: set-up (any thread, but not concurrently with itself).
  [[nodiscard]] Result<uint8_t> add_device(std::shared_ptr<PciDevice> device,
                                           std::optional<uint8_t> slot = std::nullopt);
  [[nodiscard]] std::shared_ptr<PciDevice> device_at(uint8_t slot) const;

  // Config accesses (mechanism 1 and ECAM). `offset` < 4096, width 1, 2 or 4, within one
  // dword. Absent functions and malformed accesses read all ones and drop writes; bytes
  // beyond a function's config_size() read 0. Thread: vCPU.
  void config_read(PciAddress address, uint32_t offset, std::span<uint8_t> data);
  void config_write(PciAddress address, uint32_t offset, std::span<const uint8_t> data);

  // Where BAR `index` of `slot` is registered on its bus now (nullopt: nowhere).
  [[nodiscard]] std::optional<uint64_t> mapped_bar(uint8_t slot, uint32_t index) const;

  // Metrics. bar_map_failures: a guest-programmed BAR that overlaps another range or
  // wraps; malformed_config_accesses: widths or alignments the hardware would not issue.
  [[nodiscard]] uint64_t bar_map_failures() const { return bar_map_failures_.load(); }
  [[nodiscard]] uint64_t malformed_config_accesses() const { return malformed_config_accesses_.load(); }

  // Allocator in bounds; every mapped BAR is where its device decodes it.
  [[nodiscard]] Status check_invariants() const;

 private:
  class BarRegion;
  struct Slot {
    std::shared_ptr<PciDevice> device;
    std::array<std::shared_ptr<BarRegion>, kPciNumBars> regions{};
    std::array<std::optional<uint64_t>, kPciNumBars> mapped{};
  };

  [[nodiscard]] PciDevice* find(PciAddress address) const;
  [[nodiscard]] Bus* bus_for(const PciBarDefinition& def) const;
  // Brings every slot's bus registrations in line with the decode addresses.
  void sync_bars_locked();

  Bus& mmio_bus_;
  Bus* pio_bus_;
  mutable std::mutex mutex_;
  BarAllocator allocator_;
  std::array<Slot, kNumSlots> slots_{};
  std::atomic<uint64_t> bar_map_failures_{0};
  std::atomic<uint64_t> malformed_config_accesses_{0};
  std::atomic<bool> logged_map_failure_{false};
};

}  // namespace tide::dev
