#include "devices/pci/ecam.hpp"

#include <algorithm>

namespace tide::dev {

PciAddress PciEcam::decode_address(uint64_t offset) {
  return PciAddress{.bus = static_cast<uint8_t>((offset >> 20) & 0xff),
                    .device = static_cast<uint8_t>((offset >> 15) & 0x1f),
                    .function = static_cast<uint8_t>((offset >> 12) & 0x7)};
}

void PciEcam::read(uint64_t, uint64_t offset, std::span<uint8_t> data) {
  auto root = root_.lock();
  if (offset >= kSize || !root) {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    return;
  }
  // The root rejects 8-byte and dword-crossing accesses (reads all ones) and counts them.
  root->config_read(decode_address(offset), decode_register(offset), data);
}

void PciEcam::write(uint64_t, uint64_t offset, std::span<const uint8_t> data) {
  auto root = root_.lock();
  if (offset >= kSize || !root) return;
  root->config_write(decode_address(offset), decode_register(offset), data);
}

}  // namespace tide::dev
