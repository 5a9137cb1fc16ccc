// DebugExit: QEMU's isa-debug-exit, as docs/machine.md places it: 2 ports at 0x501. A
// write of any width at offset 0 ends the VM: the callback receives the written value
// (zero-extended) as the exit status; tide exits with it as is (QEMU would exit with
// (value << 1) | 1). Writes at offset 1 are ignored; reads return 0 (as QEMU).
// Stateless: the callback runs on the writing vCPU thread without any lock held.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/bus.hpp"

namespace tide::dev {

class DebugExit final : public BusDevice {
 public:
  static constexpr uint64_t kBase = 0x501;
  static constexpr uint64_t kLength = 2;

  using ExitCallback = std::function<void(uint32_t status)>;
  explicit DebugExit(ExitCallback on_exit) : on_exit_(std::move(on_exit)) {}

  void read(uint64_t base, uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t base, uint64_t offset, std::span<const uint8_t> data) override;

 private:
  const ExitCallback on_exit_;
};

}  // namespace tide::dev
