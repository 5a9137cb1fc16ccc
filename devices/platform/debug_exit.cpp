#include "devices/platform/debug_exit.hpp"

#include <algorithm>

#include "devices/le_bytes.hpp"

namespace tide::dev {

void DebugExit::read(uint64_t, uint64_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), uint8_t{0}); }

void DebugExit::write(uint64_t, uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0 || !on_exit_) return;
  on_exit_(static_cast<uint32_t>(load_le(data)));
}

}  // namespace tide::dev
