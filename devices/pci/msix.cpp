#include "devices/pci/msix.hpp"

#include <algorithm>
#include <cassert>

#include "devices/le_bytes.hpp"
#include "devices/pci/config_space.hpp"
#include "guestmm/base/log.hpp"

namespace tide::dev {

MsixTable::MsixTable(std::vector<std::unique_ptr<MsiVector>> vectors) {
  assert(!vectors.empty() && vectors.size() <= 2048);
  entries_.resize(vectors.size());
  for (size_t i = 0; i < vectors.size(); ++i) entries_[i].vector = std::move(vectors[i]);
}

std::array<uint8_t, kMsixCapabilitySize> MsixTable::capability(uint8_t bir, uint32_t table_offset,
                                                               uint32_t pba_offset) const {
  assert(bir < kPciNumBars && (table_offset & 7) == 0 && (pba_offset & 7) == 0);
  std::array<uint8_t, kMsixCapabilitySize> cap{};
  cap[0] = kPciCapIdMsix;
  store_le(std::span(cap).subspan(2, 2), size() - 1u);  // table size is encoded as N - 1
  store_le(std::span(cap).subspan(4, 4), table_offset | bir);
  store_le(std::span(cap).subspan(8, 4), pba_offset | bir);
  return cap;
}

std::array<uint8_t, kMsixCapabilitySize> MsixTable::capability_writable_mask() {
  std::array<uint8_t, kMsixCapabilitySize> mask{};
  mask[kMsixCapabilityControl + 1] = (kMsixControlEnable | kMsixControlFunctionMask) >> 8;
  return mask;
}

bool MsixTable::masked(const Entry& e) const {
  return !enabled_ || function_masked_ || (e.control & kMsixVectorControlMask) != 0;
}

bool MsixTable::route(Entry& e) {
  MsiMessage m{.address = (uint64_t{e.address_hi} << 32) | e.address_lo, .data = e.data};
  if (e.routed && e.routed_message == m) return true;
  Status st = e.vector->set_message(m);
  if (!st) {
    e.routed = false;
    ++counters_.route_failures;
    if (!logged_route_failure_) {
      logged_route_failure_ = true;
      log::warn("MSI-X route update failed: %s", st.error().message().c_str());
    }
    return false;
  }
  e.routed = true;
  e.routed_message = m;
  return true;
}

void MsixTable::update(Entry& e) {
  if (masked(e)) return;
  if (!route(e)) return;
  if (e.pending) {
    e.pending = false;
    e.vector->trigger();
    ++counters_.delivered;
  }
}

uint32_t MsixTable::read_dword(uint64_t offset) const {
  uint64_t index = offset / kMsixEntrySize;
  if (index >= entries_.size()) return 0;
  const Entry& e = entries_[index];
  switch (offset % kMsixEntrySize) {
    case 0: return e.address_lo;
    case 4: return e.address_hi;
    case 8: return e.data;
    default: return e.control;
  }
}

void MsixTable::write_dword(uint64_t offset, uint32_t value) {
  uint64_t index = offset / kMsixEntrySize;
  if (index >= entries_.size()) return;
  Entry& e = entries_[index];
  switch (offset % kMsixEntrySize) {
    case 0: e.address_lo = value & ~3u; break;  // bits 1:0 are reserved (§6.8.2.6)
    case 4: e.address_hi = value; break;
    case 8: e.data = value; break;
    default: e.control = value & kMsixVectorControlMask; break;
  }
  update(e);
}

void MsixTable::read_table(uint64_t offset, std::span<uint8_t> data) const {
  if (!((data.size() == 4 && offset % 4 == 0) || (data.size() == 8 && offset % 8 == 0))) {
    ++counters_.malformed_accesses;
    std::fill(data.begin(), data.end(), uint8_t{0});
    return;
  }
  for (size_t i = 0; i < data.size(); i += 4) store_le(data.subspan(i, 4), read_dword(offset + i));
}

void MsixTable::write_table(uint64_t offset, std::span<const uint8_t> data) {
  if (!((data.size() == 4 && offset % 4 == 0) || (data.size() == 8 && offset % 8 == 0))) {
    ++counters_.malformed_accesses;
    return;
  }
  for (size_t i = 0; i < data.size(); i += 4) {
    write_dword(offset + i, static_cast<uint32_t>(load_le(data.subspan(i, 4))));
  }
}

void MsixTable::read_pba(uint64_t offset, std::span<uint8_t> data) const {
  if (!((data.size() == 4 && offset % 4 == 0) || (data.size() == 8 && offset % 8 == 0))) {
    ++counters_.malformed_accesses;
    std::fill(data.begin(), data.end(), uint8_t{0});
    return;
  }
  uint64_t bits = 0;
  for (size_t b = 0; b < data.size() * 8; ++b) {
    uint64_t index = offset * 8 + b;
    if (index < entries_.size() && entries_[index].pending) bits |= uint64_t{1} << b;
  }
  store_le(data, bits);
}

void MsixTable::set_control(uint16_t message_control) {
  bool enabled = (message_control & kMsixControlEnable) != 0;
  bool function_masked = (message_control & kMsixControlFunctionMask) != 0;
  if (enabled == enabled_ && function_masked == function_masked_) return;
  enabled_ = enabled;
  function_masked_ = function_masked;
  for (Entry& e : entries_) update(e);
}

bool MsixTable::signal(uint16_t index) {
  if (!enabled_ || index >= entries_.size()) return false;
  Entry& e = entries_[index];
  if (masked(e)) {
    if (!e.pending) ++counters_.set_pending;
    e.pending = true;
    return true;
  }
  if (!route(e)) return true;  // counted and logged in route(); the signal is lost
  e.vector->trigger();
  ++counters_.delivered;
  return true;
}

Status MsixTable::check_invariants() const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (masked(e)) continue;
    if (e.pending && e.routed) {
      return make_error(std::errc::state_not_recoverable, log::strf("live MSI-X entry %zu left pending", i));
    }
    if (e.routed && !(e.routed_message == message(static_cast<uint16_t>(i)))) {
      return make_error(std::errc::state_not_recoverable, log::strf("MSI-X entry %zu routes a stale message", i));
    }
  }
  return ok();
}

MsiMessage MsixTable::message(uint16_t index) const {
  if (index >= entries_.size()) return {};
  const Entry& e = entries_[index];
  return MsiMessage{.address = (uint64_t{e.address_hi} << 32) | e.address_lo, .data = e.data};
}

bool MsixTable::entry_masked(uint16_t index) const {
  return index < entries_.size() && (entries_[index].control & kMsixVectorControlMask) != 0;
}

bool MsixTable::pending(uint16_t index) const { return index < entries_.size() && entries_[index].pending; }

}  // namespace tide::dev
