#include "devices/platform/wait_port.hpp"

#include "devices/le_bytes.hpp"

namespace tide::dev {

void WaitPort::read(uint64_t, uint64_t offset, std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t at = offset + i;
    data[i] = at < kLength ? static_cast<uint8_t>(kSignature >> (8 * at)) : uint8_t{0xff};
  }
}

void WaitPort::write(uint64_t, uint64_t, std::span<const uint8_t> data) {
  if (on_wait_) on_wait_(static_cast<uint32_t>(load_le(data)));
}

}  // namespace tide::dev
