// Time: now_ns() from kvmclock (pvclock) when the hypervisor advertises
// KVM_FEATURE_CLOCKSOURCE2, else from the TSC with a frequency from CPUID (leaf 0x15,
// 0x16 or the hypervisor timing leaf 0x40000010). The source is chosen once in
// clock_init() and named by clock_source_name(). Boot CPU only.
#pragma once

#include <cstdint>

namespace tg::dev {

enum class ClockSource { kKvmClock, kCpuidTsc, kAssumedTsc };

void clock_init();
// Monotonic nanoseconds (kvmclock: since the host's reference point; TSC: since reset).
uint64_t now_ns();
// Converts a TSC delta to nanoseconds with the current calibration.
uint64_t tsc_delta_to_ns(uint64_t cycles);
ClockSource clock_source();
const char* clock_source_name();
uint64_t tsc_khz();

}  // namespace tg::dev
