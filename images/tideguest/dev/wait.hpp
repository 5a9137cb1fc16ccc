// Waiting without HLT (which does not stop a native vCPU on PVM). Under tide, a 32-bit
// `out` of a timeout in microseconds to the wait port 0x504 sleeps in the VMM until it has
// work for the guest or the timeout passes; tide is recognised by `in` from that port
// returning "TIDE". Elsewhere wait_us() spins on `pause`, watching the clock.
// Every "wait for the device" loop calls wait_us() between polls.
#pragma once

#include <cstdint>

namespace tg::dev {

// Probes the wait port (one port read). Needs the clock for the fallback.
void wait_init();
bool wait_port_present();
// Returns after at most about `timeout_us` (earlier when the VMM has work); 0 returns at once.
void wait_us(uint32_t timeout_us);
// Sleeps at least `duration_us`, in wait_us() slices.
void sleep_us(uint64_t duration_us);

}  // namespace tg::dev
