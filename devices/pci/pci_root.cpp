#include "devices/pci/pci_root.hpp"

#include <algorithm>

#include "devices/pci/host_bridge.hpp"
#include "guestmm/base/log.hpp"

namespace tide::dev {

// The bus-facing side of one BAR: forwards accesses to the device. Kept alive by the bus
// while an access is in flight, so a BAR moved by another vCPU cannot free it under us.
class PciRoot::BarRegion final : public BusDevice {
 public:
  BarRegion(std::shared_ptr<PciDevice> device, uint32_t index) : device_(std::move(device)), index_(index) {}
  void read(uint64_t, uint64_t offset, std::span<uint8_t> data) override { device_->bar_read(index_, offset, data); }
  void write(uint64_t, uint64_t offset, std::span<const uint8_t> data) override {
    device_->bar_write(index_, offset, data);
  }

 private:
  std::shared_ptr<PciDevice> device_;
  uint32_t index_;
};

namespace {

bool valid_config_access(uint32_t offset, size_t width) {
  if (width != 1 && width != 2 && width != 4) return false;
  if (offset >= PciConfigSpace::kExtendedSize) return false;
  return (offset & 3) + width <= 4;  // never crosses a dword
}

}  // namespace

PciRoot::PciRoot(Bus& mmio_bus, Bus* pio_bus, uint64_t window_base, uint64_t window_size)
    : mmio_bus_(mmio_bus), pio_bus_(pio_bus), allocator_(window_base, window_size) {
  slots_[0].device = std::make_shared<PciHostBridge>();
}

PciRoot::~PciRoot() {
  std::lock_guard lock(mutex_);
  for (Slot& slot : slots_) {
    for (uint32_t i = 0; i < kPciNumBars; ++i) {
      if (!slot.mapped[i]) continue;
      Bus* bus = bus_for(slot.device->bar_definition(i));
      if (bus) bus->remove(*slot.mapped[i]);
    }
  }
}

Result<uint8_t> PciRoot::add_device(std::shared_ptr<PciDevice> device, std::optional<uint8_t> slot) {
  if (!device) return make_error(std::errc::invalid_argument, "no PCI device given");
  std::lock_guard lock(mutex_);
  uint8_t index = 0;
  if (slot) {
    if (*slot >= kNumSlots || slots_[*slot].device) {
      return make_error(std::errc::invalid_argument, log::strf("PCI slot %u is taken or out of range", *slot));
    }
    index = *slot;
  } else {
    auto it = std::find_if(slots_.begin() + 1, slots_.end(), [](const Slot& s) { return !s.device; });
    if (it == slots_.end())
      return make_error(std::errc::device_or_resource_busy, "all 32 PCI slots on bus 0 are taken");
    index = static_cast<uint8_t>(it - slots_.begin());
  }
  // Allocate every BAR before changing anything, so a full window leaves no trace.
  std::array<std::optional<uint64_t>, kPciNumBars> addresses{};
  BarAllocator trial = allocator_;
  for (uint32_t i = 0; i < kPciNumBars; ++i) {
    PciBarDefinition def = device->bar_definition(i);
    if (!def.implemented()) continue;
    if (def.is_io()) {
      log::info("PCI 00:%02x.0 BAR %u is an I/O BAR; left for the guest to assign", index, i);
      continue;
    }
    TIDE_TRY_ASSIGN(address, trial.allocate(def.size_bytes));
    addresses[i] = address;
  }
  allocator_ = trial;
  Slot& s = slots_[index];
  s.device = std::move(device);
  for (uint32_t i = 0; i < kPciNumBars; ++i) {
    PciBarDefinition def = s.device->bar_definition(i);
    if (def.implemented()) s.regions[i] = std::make_shared<BarRegion>(s.device, i);
    if (addresses[i]) s.device->assign_bar(i, *addresses[i]);
  }
  sync_bars_locked();
  return index;
}

std::shared_ptr<PciDevice> PciRoot::device_at(uint8_t slot) const {
  std::lock_guard lock(mutex_);
  return slot < kNumSlots ? slots_[slot].device : nullptr;
}

PciDevice* PciRoot::find(PciAddress address) const {
  if (address.bus != 0 || address.device >= kNumSlots || address.function != 0) return nullptr;
  return slots_[address.device].device.get();
}

Bus* PciRoot::bus_for(const PciBarDefinition& def) const { return def.is_io() ? pio_bus_ : &mmio_bus_; }

void PciRoot::config_read(PciAddress address, uint32_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), uint8_t{0xff});
  if (!valid_config_access(offset, data.size())) {
    malformed_config_accesses_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(mutex_);
  PciDevice* device = find(address);
  if (!device) return;
  if (offset + data.size() > device->config_size()) {
    std::fill(data.begin(), data.end(), uint8_t{0});
    return;
  }
  device->config_read(offset, data);
}

void PciRoot::config_write(PciAddress address, uint32_t offset, std::span<const uint8_t> data) {
  if (!valid_config_access(offset, data.size())) {
    malformed_config_accesses_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(mutex_);
  PciDevice* device = find(address);
  if (!device || offset + data.size() > device->config_size()) return;
  device->config_write(offset, data);
  // Any write may move a BAR or flip decoding (command register, BARs, or a device's
  // own side effects); re-checking all slots also lets a BAR that collided with another
  // one map once the other moves away.
  sync_bars_locked();
}

void PciRoot::sync_bars_locked() {
  std::array<std::array<std::optional<uint64_t>, kPciNumBars>, kNumSlots> before{};
  std::array<std::array<std::optional<uint64_t>, kPciNumBars>, kNumSlots> wanted{};
  // First take down every range that moved, then put up the new ones, so two BARs that
  // swap places do not collide.
  for (uint32_t s = 0; s < kNumSlots; ++s) {
    Slot& slot = slots_[s];
    if (!slot.device) continue;
    before[s] = slot.mapped;
    for (uint32_t i = 0; i < kPciNumBars; ++i) {
      PciBarDefinition def = slot.device->bar_definition(i);
      if (def.implemented() && bus_for(def)) wanted[s][i] = slot.device->bar_decode_address(i);
      if (slot.mapped[i] && slot.mapped[i] != wanted[s][i]) {
        bus_for(def)->remove(*slot.mapped[i]);
        slot.mapped[i].reset();
      }
    }
  }
  for (uint32_t s = 0; s < kNumSlots; ++s) {
    Slot& slot = slots_[s];
    if (!slot.device) continue;
    for (uint32_t i = 0; i < kPciNumBars; ++i) {
      if (!wanted[s][i] || slot.mapped[i]) continue;
      PciBarDefinition def = slot.device->bar_definition(i);
      Status st = bus_for(def)->insert(*wanted[s][i], def.size_bytes, slot.regions[i]);
      if (st) {
        slot.mapped[i] = wanted[s][i];
        continue;
      }
      bar_map_failures_.fetch_add(1, std::memory_order_relaxed);
      if (!logged_map_failure_.exchange(true)) {
        log::warn("PCI 00:%02x.0 BAR %u not mapped where the guest put it: %s", s, i, st.error().message().c_str());
      }
    }
  }
  for (uint32_t s = 0; s < kNumSlots; ++s) {
    Slot& slot = slots_[s];
    if (!slot.device) continue;
    for (uint32_t i = 0; i < kPciNumBars; ++i) {
      if (before[s][i] != slot.mapped[i]) slot.device->bar_mapped(i, slot.mapped[i]);
    }
  }
}

std::optional<uint64_t> PciRoot::mapped_bar(uint8_t slot, uint32_t index) const {
  std::lock_guard lock(mutex_);
  if (slot >= kNumSlots || index >= kPciNumBars) return std::nullopt;
  return slots_[slot].mapped[index];
}

Status PciRoot::check_invariants() const {
  std::lock_guard lock(mutex_);
  TIDE_TRY(allocator_.check_invariants());
  for (uint32_t s = 0; s < kNumSlots; ++s) {
    const Slot& slot = slots_[s];
    if (!slot.device) {
      for (const auto& m : slot.mapped) {
        if (m) return make_error(std::errc::state_not_recoverable, log::strf("empty slot %u has a mapped BAR", s));
      }
      continue;
    }
    for (uint32_t i = 0; i < kPciNumBars; ++i) {
      if (slot.mapped[i] && slot.mapped[i] != slot.device->bar_decode_address(i)) {
        return make_error(std::errc::state_not_recoverable,
                          log::strf("slot %u BAR %u mapped away from where it decodes", s, i));
      }
    }
  }
  return ok();
}

}  // namespace tide::dev
