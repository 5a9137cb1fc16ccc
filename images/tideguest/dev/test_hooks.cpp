// tide's test-hook port (see test_hooks.hpp).
#include "dev/test_hooks.hpp"

#include "arch/x86.hpp"

namespace tg::dev {
namespace {

constexpr uint16_t kHookGfnPort = 0x510;      // out: latch GFN; in: signature
constexpr uint16_t kHookReleasePort = 0x514;  // out: count, releases; in: result
constexpr uint32_t kHookSignature = 0x4b4f4f48;  // "HOOK" little-endian

enum class Probe : uint8_t { kUnknown, kPresent, kAbsent };
Probe g_probe = Probe::kUnknown;

}  // namespace

bool test_hooks_present() {
  if (g_probe == Probe::kUnknown)
    g_probe = arch::inl(kHookGfnPort) == kHookSignature ? Probe::kPresent : Probe::kAbsent;
  return g_probe == Probe::kPresent;
}

uint32_t hook_release(uint32_t gfn, uint32_t page_count) {
  // tide reads `out` data from RAX, so the PVM 32-bit `out` data quirk does not matter.
  arch::outl(kHookGfnPort, gfn);
  arch::outl(kHookReleasePort, page_count);
  return arch::inl(kHookReleasePort);
}

}  // namespace tg::dev
