// Ending the VM with a status: an 8-bit write to the debug-exit port 0x501 (tide exits
// with the value; QEMU's isa-debug-exit with (value << 1) | 1). If no device answers, the
// CPU spins (HLT does not stop a native vCPU on PVM).
#pragma once

#include <cstdint>

namespace tg::dev {

inline constexpr uint8_t kExitCrash = 0x7f;  // unexpected exception

[[noreturn]] void debug_exit(uint8_t status);

}  // namespace tg::dev
