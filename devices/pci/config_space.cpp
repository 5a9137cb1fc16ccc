#include "devices/pci/config_space.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

#include "guestmm/base/log.hpp"

namespace tide::dev {
namespace {

// Command bits a driver may set: I/O, memory, bus master, parity error response, SERR#,
// interrupt disable (PCI 3.0 §6.2.2). The rest are hardwired to 0 here.
constexpr uint16_t kCommandWritable = 0x0547;

uint32_t bar_offset(uint32_t index) { return kPciBar0 + 4 * index; }

}  // namespace

PciConfigSpace::PciConfigSpace(const PciIdentity& identity, uint32_t size_bytes)
    : bytes_(size_bytes, 0), writable_(size_bytes, 0) {
  assert(size_bytes == kConventionalSize || size_bytes == kExtendedSize);
  store(kPciVendorId, 2, identity.vendor_id);
  store(kPciDeviceId, 2, identity.device_id);
  store(kPciRevisionId, 1, identity.revision);
  store(kPciClassCode, 1, identity.class_code & 0xff);
  store(kPciClassCode + 1, 2, (identity.class_code >> 8) & 0xffff);
  store(kPciHeaderType, 1, 0);  // type 0, single function
  store(kPciSubsystemVendorId, 2, identity.subsystem_vendor_id);
  store(kPciSubsystemId, 2, identity.subsystem_id);
  store(kPciInterruptPin, 1, 0);  // no INTx: interrupts are MSI-X only

  writable_[kPciCommand] = kCommandWritable & 0xff;
  writable_[kPciCommand + 1] = kCommandWritable >> 8;
  writable_[kPciCacheLineSize] = 0xff;
  writable_[kPciLatencyTimer] = 0xff;
  writable_[kPciInterruptLine] = 0xff;
}

void PciConfigSpace::define_bar(uint32_t index, const PciBarDefinition& def) {
  assert(index < kPciNumBars && !upper_half_[index]);
  assert(def.size_bytes == 0 || std::has_single_bit(def.size_bytes));
  assert(def.size_bytes == 0 || def.size_bytes >= (def.is_io() ? 4u : 16u));
  assert(def.kind != PciBarKind::kMemory64 || index + 1 < kPciNumBars);
  assert(def.kind == PciBarKind::kMemory64 || def.size_bytes <= (uint64_t{1} << 31));
  bars_[index] = def;
  if (def.kind == PciBarKind::kMemory64 && def.implemented()) {
    assert(!bars_[index + 1].implemented());
    upper_half_[index + 1] = true;
  }
  set_bar_bytes(index);
}

PciBarDefinition PciConfigSpace::bar_definition(uint32_t index) const {
  if (index >= kPciNumBars || upper_half_[index]) return {};
  return bars_[index];
}

uint64_t PciConfigSpace::bar_mask(uint32_t index) const {
  const PciBarDefinition& def = bars_[index];
  if (!def.implemented()) return 0;
  uint64_t mask = ~(def.size_bytes - 1);
  if (def.kind != PciBarKind::kMemory64) mask &= 0xffffffffu;
  return mask & ~uint64_t{def.is_io() ? 0x3u : 0xfu};
}

uint32_t PciConfigSpace::bar_flags(uint32_t index) const {
  const PciBarDefinition& def = bars_[index];
  if (!def.implemented()) return 0;
  if (def.is_io()) return kPciBarIo;
  uint32_t flags = def.kind == PciBarKind::kMemory64 ? kPciBarMem64 : 0;
  if (def.prefetchable) flags |= kPciBarPrefetchable;
  return flags;
}

void PciConfigSpace::set_bar_bytes(uint32_t index) {
  uint64_t mask = bar_mask(index);
  uint32_t off = bar_offset(index);
  for (uint32_t i = 0; i < 4; ++i) writable_[off + i] = static_cast<uint8_t>(mask >> (8 * i));
  store(off, 4, bar_flags(index));
  if (bars_[index].kind == PciBarKind::kMemory64 && bars_[index].implemented()) {
    uint32_t hi = bar_offset(index + 1);
    for (uint32_t i = 0; i < 4; ++i) writable_[hi + i] = static_cast<uint8_t>(mask >> (32 + 8 * i));
    store(hi, 4, 0);
  }
}

uint32_t PciConfigSpace::add_capability(std::span<const uint8_t> body, std::span<const uint8_t> writable) {
  assert(body.size() >= 2 && (writable.empty() || writable.size() == body.size()));
  uint32_t off = next_capability_;
  assert(off + body.size() <= kConventionalSize);
  std::copy(body.begin(), body.end(), bytes_.begin() + off);
  std::fill(writable_.begin() + off, writable_.begin() + off + static_cast<long>(body.size()), uint8_t{0});
  if (!writable.empty()) std::copy(writable.begin(), writable.end(), writable_.begin() + off);
  bytes_[off + 1] = 0;
  writable_[off] = 0;
  writable_[off + 1] = 0;
  if (last_capability_ == 0) {
    store(kPciCapabilitiesPointer, 1, off);
    store(kPciStatus, 2, load(kPciStatus, 2) | kPciStatusCapabilitiesList);
  } else {
    bytes_[last_capability_ + 1] = static_cast<uint8_t>(off);
  }
  last_capability_ = off;
  next_capability_ = off + ((static_cast<uint32_t>(body.size()) + 3) & ~3u);
  return off;
}

void PciConfigSpace::read(uint32_t offset, std::span<uint8_t> data) const {
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t at = uint64_t{offset} + i;
    data[i] = at < bytes_.size() ? bytes_[at] : uint8_t{0};
  }
}

void PciConfigSpace::write(uint32_t offset, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t at = uint64_t{offset} + i;
    if (at >= bytes_.size()) break;
    uint8_t m = writable_[at];
    bytes_[at] = static_cast<uint8_t>((bytes_[at] & ~m) | (data[i] & m));
  }
}

uint32_t PciConfigSpace::load(uint32_t offset, uint32_t width) const {
  assert(width <= 4 && offset + width <= bytes_.size());
  uint32_t v = 0;
  for (uint32_t i = 0; i < width; ++i) v |= uint32_t{bytes_[offset + i]} << (8 * i);
  return v;
}

void PciConfigSpace::store(uint32_t offset, uint32_t width, uint32_t value) {
  assert(width <= 4 && offset + width <= bytes_.size());
  for (uint32_t i = 0; i < width; ++i) bytes_[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t PciConfigSpace::bar_address(uint32_t index) const {
  if (index >= kPciNumBars || upper_half_[index] || !bars_[index].implemented()) return 0;
  uint64_t v = load(bar_offset(index), 4);
  if (bars_[index].kind == PciBarKind::kMemory64) v |= uint64_t{load(bar_offset(index + 1), 4)} << 32;
  return v & bar_mask(index);
}

std::optional<uint64_t> PciConfigSpace::bar_decode_address(uint32_t index) const {
  if (index >= kPciNumBars || upper_half_[index] || !bars_[index].implemented()) return std::nullopt;
  uint16_t enable = bars_[index].is_io() ? kPciCommandIo : kPciCommandMemory;
  if ((command() & enable) == 0) return std::nullopt;
  uint64_t address = bar_address(index);
  // 0 is "unassigned"; a range running past the top of the address space is what a
  // 64-bit BAR looks like halfway through sizing with decoding left on: it decodes nothing.
  if (address == 0 || address + bars_[index].size_bytes < address) return std::nullopt;
  return address;
}

void PciConfigSpace::assign_bar(uint32_t index, uint64_t address) {
  assert(index < kPciNumBars && !upper_half_[index] && bars_[index].implemented());
  assert((address & (bars_[index].size_bytes - 1)) == 0);
  assert((address & ~bar_mask(index)) == 0);
  store(bar_offset(index), 4, static_cast<uint32_t>(address) | bar_flags(index));
  if (bars_[index].kind == PciBarKind::kMemory64) {
    store(bar_offset(index + 1), 4, static_cast<uint32_t>(address >> 32));
  }
  uint16_t enable = bars_[index].is_io() ? kPciCommandIo : kPciCommandMemory;
  store(kPciCommand, 2, command() | enable);
}

Status PciConfigSpace::check_invariants() const {
  for (uint32_t i = 0; i < kPciNumBars; ++i) {
    if (upper_half_[i]) continue;
    uint32_t low = load(bar_offset(i), 4);
    uint32_t flag_bits = bars_[i].is_io() ? 0x3u : 0xfu;
    if (bars_[i].implemented() && (low & flag_bits) != bar_flags(i)) {
      return make_error(std::errc::state_not_recoverable, log::strf("BAR %u flags changed", i));
    }
    if (!bars_[i].implemented() && low != 0) {
      return make_error(std::errc::state_not_recoverable, log::strf("unimplemented BAR %u is 0x%x", i, low));
    }
  }
  for (uint32_t off = 0; off < kPciBar0; ++off) {
    bool may_write =
        off == kPciCommand || off == kPciCommand + 1 || off == kPciCacheLineSize || off == kPciLatencyTimer;
    if (!may_write && writable_[off] != 0) {
      return make_error(std::errc::state_not_recoverable, log::strf("header byte 0x%x writable", off));
    }
  }
  // Walk the capability list: in range, dword aligned, terminates within the header.
  uint32_t cap = (load(kPciStatus, 2) & kPciStatusCapabilitiesList) ? load(kPciCapabilitiesPointer, 1) : 0;
  for (uint32_t steps = 0; cap != 0; ++steps) {
    if (steps > 48 || cap < kPciFirstCapability || cap >= kConventionalSize || (cap & 3) != 0) {
      return make_error(std::errc::state_not_recoverable, log::strf("capability list broken at 0x%x", cap));
    }
    cap = bytes_[cap + 1];
  }
  return ok();
}

}  // namespace tide::dev
