// Waiting without HLT (which does not stop a native vCPU on PVM). Under tide, a 32-bit
// `out` of a timeout in microseconds to the wait port 0x504 sleeps in the VMM until it has
// work for the guest or the timeout passes; tide is recognised by `in` from that port
// returning "TIDE". Elsewhere wait_us() spins on `pause`, watching the clock.
// Every "wait for the device" loop calls wait_us() between polls.
// An idle hook (the balloon driver's service routine) runs between the slices of
// sleep_us() and at the other idle points that call run_idle_hook(); it returns how long
// it can wait before it next needs to run, and slices are cut to that.
#pragma once

#include <cstdint>

namespace tg::dev {

// Probes the wait port (one port read). Needs the clock for the fallback.
void wait_init();
bool wait_port_present();
// Returns after at most about `timeout_us` (earlier when the VMM has work); 0 returns at once.
void wait_us(uint32_t timeout_us);
// Sleeps at least `duration_us`, in wait_us() slices, running the idle hook between them.
void sleep_us(uint64_t duration_us);

// Returns the microseconds until the hook next wants to run (0: at once, as it has more
// work). The hook must tolerate being called from anywhere a sleep or wait happens.
using IdleHook = uint64_t (*)();
inline constexpr uint64_t kIdleForever = ~0ull;
void set_idle_hook(IdleHook hook);
// Runs the hook (kIdleForever without one).
uint64_t run_idle_hook();

}  // namespace tg::dev
