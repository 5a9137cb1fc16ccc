// Debug-exit port (see debug_exit.hpp).
#include "dev/debug_exit.hpp"

#include "arch/x86.hpp"

namespace tg::dev {

void debug_exit(uint8_t status) {
  constexpr uint16_t kDebugExitPort = 0x501;
  arch::outb(kDebugExitPort, status);
  for (;;) arch::pause();
}

}  // namespace tg::dev
