// WaitPort: tide's paravirtual wait port (docs/machine.md): 4 ports at 0x504. Reading it
// identifies tide: a 32-bit `in` returns 0x45444954 ("TIDE"; narrower reads return the
// matching bytes of it). Any `out` asks to sleep: the written value (zero-extended) is a
// timeout in microseconds, forwarded to the VMM's on_wait, which blocks the calling vCPU
// until the VMM has work for the guest or the timeout passes (0: return at once).
// Stateless: on_wait runs on the vCPU thread with no lock held.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/bus.hpp"

namespace tide::dev {

class WaitPort final : public BusDevice {
 public:
  static constexpr uint64_t kBase = 0x504;
  static constexpr uint64_t kLength = 4;
  static constexpr uint32_t kSignature = 0x45444954;  // "TIDE" as a little-endian dword

  using WaitCallback = std::function<void(uint32_t timeout_us)>;
  explicit WaitPort(WaitCallback on_wait) : on_wait_(std::move(on_wait)) {}

  void read(uint64_t base, uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t base, uint64_t offset, std::span<const uint8_t> data) override;

 private:
  const WaitCallback on_wait_;
};

}  // namespace tide::dev
