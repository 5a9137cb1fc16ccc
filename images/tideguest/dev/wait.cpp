// Wait port and spin-wait fallback (see wait.hpp).
#include "dev/wait.hpp"

#include "arch/x86.hpp"
#include "dev/clock.hpp"

namespace tg::dev {
namespace {

constexpr uint16_t kWaitPort = 0x504;
constexpr uint32_t kWaitPortSignature = 0x45444954;  // "TIDE" little-endian
// Longest single wait: keeps sleep_us() responsive to a VMM that never wakes us early.
constexpr uint32_t kMaxSliceUs = 100000;

bool g_present = false;

}  // namespace

void wait_init() { g_present = arch::inl(kWaitPort) == kWaitPortSignature; }

bool wait_port_present() { return g_present; }

void wait_us(uint32_t timeout_us) {
  if (timeout_us == 0) return;
  if (g_present) {
    // tide reads the value from RAX, so the PVM 32-bit `out` data quirk does not matter.
    arch::outl(kWaitPort, timeout_us);
    return;
  }
  const uint64_t deadline = now_ns() + uint64_t{timeout_us} * 1000;
  while (now_ns() < deadline) arch::pause();
}

void sleep_us(uint64_t duration_us) {
  const uint64_t deadline = now_ns() + duration_us * 1000;
  for (uint64_t now = now_ns(); now < deadline; now = now_ns()) {
    uint64_t left_us = (deadline - now + 999) / 1000;
    wait_us(left_us > kMaxSliceUs ? kMaxSliceUs : static_cast<uint32_t>(left_us));
  }
}

}  // namespace tg::dev
