#include "devices/pci/config_io.hpp"

#include <algorithm>

#include "devices/le_bytes.hpp"

namespace tide::dev {
namespace {

constexpr uint64_t kDataOffset = 4;

PciAddress decode(uint32_t address) {
  return PciAddress{.bus = static_cast<uint8_t>(address >> 16),
                    .device = static_cast<uint8_t>((address >> 11) & 0x1f),
                    .function = static_cast<uint8_t>((address >> 8) & 0x7)};
}

}  // namespace

void PciConfigIo::read(uint64_t, uint64_t offset, std::span<uint8_t> data) {
  if (offset < kDataOffset) {
    if (offset == 0 && data.size() == 4) {
      store_le(data, address_.load(std::memory_order_relaxed));
    } else {
      std::fill(data.begin(), data.end(), uint8_t{0xff});
    }
    return;
  }
  uint32_t address = address_.load(std::memory_order_relaxed);
  if ((address & kEnableBit) == 0) {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    return;
  }
  auto root = root_.lock();
  if (!root) {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    return;
  }
  uint32_t reg = (address & 0xfc) + static_cast<uint32_t>(offset - kDataOffset);
  root->config_read(decode(address), reg, data);
}

void PciConfigIo::write(uint64_t, uint64_t offset, std::span<const uint8_t> data) {
  if (offset < kDataOffset) {
    if (offset == 0 && data.size() == 4)
      address_.store(static_cast<uint32_t>(load_le(data)), std::memory_order_relaxed);
    return;
  }
  uint32_t address = address_.load(std::memory_order_relaxed);
  if ((address & kEnableBit) == 0) return;
  auto root = root_.lock();
  if (!root) return;
  uint32_t reg = (address & 0xfc) + static_cast<uint32_t>(offset - kDataOffset);
  root->config_write(decode(address), reg, data);
}

}  // namespace tide::dev
