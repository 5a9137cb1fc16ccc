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
IdleHook g_idle_hook = nullptr;

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
    uint64_t slice_us = (deadline - now + 999) / 1000;
    if (slice_us > kMaxSliceUs) slice_us = kMaxSliceUs;
    const uint64_t due_us = run_idle_hook();
    if (due_us < slice_us) slice_us = due_us;
    wait_us(static_cast<uint32_t>(slice_us));
  }
}

void set_idle_hook(IdleHook hook) { g_idle_hook = hook; }

uint64_t run_idle_hook() { return g_idle_hook == nullptr ? kIdleForever : g_idle_hook(); }

}  // namespace tg::dev
