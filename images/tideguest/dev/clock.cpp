// kvmclock / TSC time keeping (see clock.hpp).
#include "dev/clock.hpp"

#include "arch/x86.hpp"

namespace tg::dev {
namespace {

// KVM paravirtual interface (Linux Documentation/virt/kvm/x86/cpuid.rst, msr.rst).
constexpr uint32_t KVM_CPUID_SIGNATURE = 0x40000000;
constexpr uint32_t KVM_CPUID_FEATURES = 0x40000001;
constexpr uint32_t KVM_FEATURE_CLOCKSOURCE2 = 3;
constexpr uint32_t MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;
constexpr uint32_t kHypervisorTimingLeaf = 0x40000010;  // EAX = TSC kHz (VMware/QEMU)

// pvclock_vcpu_time_info (arch/x86/include/asm/pvclock-abi.h).
struct pvclock_vcpu_time_info {
  uint32_t version;
  uint32_t pad0;
  uint64_t tsc_timestamp;
  uint64_t system_time;
  uint32_t tsc_to_system_mul;
  int8_t tsc_shift;
  uint8_t flags;
  uint8_t pad[2];
};
static_assert(sizeof(pvclock_vcpu_time_info) == 32);

alignas(64) volatile pvclock_vcpu_time_info g_pvclock;
ClockSource g_source = ClockSource::kAssumedTsc;
// TSC fallback: ns = (cycles * g_ns_per_cycle_q32) >> 32.
uint64_t g_ns_per_cycle_q32 = 0;
uint64_t g_tsc_khz = 0;

uint64_t scale(uint64_t delta, uint32_t mul, int8_t shift) {
  if (shift < 0) delta >>= -shift;
  else delta <<= shift;
  return static_cast<uint64_t>((static_cast<unsigned __int128>(delta) * mul) >> 32);
}

bool kvmclock_available() {
  auto sig = arch::cpuid(KVM_CPUID_SIGNATURE);
  // "KVMKVMKVM\0\0\0" in EBX, ECX, EDX.
  if (sig.ebx != 0x4b4d564b || sig.ecx != 0x564b4d56 || sig.edx != 0x4d) return false;
  if (sig.eax < KVM_CPUID_FEATURES) return false;
  return (arch::cpuid(KVM_CPUID_FEATURES).eax >> KVM_FEATURE_CLOCKSOURCE2) & 1;
}

uint64_t cpuid_tsc_khz() {
  uint32_t max_leaf = arch::cpuid(0).eax;
  if (max_leaf >= 0x15) {
    auto r = arch::cpuid(0x15);  // EBX/EAX = TSC/crystal ratio, ECX = crystal Hz
    if (r.eax != 0 && r.ebx != 0 && r.ecx != 0) return uint64_t{r.ecx} * r.ebx / r.eax / 1000;
  }
  if (max_leaf >= 0x16) {
    auto r = arch::cpuid(0x16);  // EAX = base MHz
    if (r.eax != 0) return uint64_t{r.eax} * 1000;
  }
  if (arch::cpuid(0x40000000).eax >= kHypervisorTimingLeaf) {
    auto r = arch::cpuid(kHypervisorTimingLeaf);
    if (r.eax != 0) return r.eax;
  }
  return 0;
}

struct PvclockSnapshot {
  uint64_t tsc_timestamp;
  uint64_t system_time;
  uint32_t mul;
  int8_t shift;
};

PvclockSnapshot read_pvclock() {
  PvclockSnapshot s;
  uint32_t version;
  do {
    version = g_pvclock.version;
    arch::compiler_barrier();  // x86 keeps loads ordered; the compiler must too
    s.tsc_timestamp = g_pvclock.tsc_timestamp;
    s.system_time = g_pvclock.system_time;
    s.mul = g_pvclock.tsc_to_system_mul;
    s.shift = g_pvclock.tsc_shift;
    arch::compiler_barrier();
  } while ((version & 1) != 0 || version != g_pvclock.version);
  return s;
}

}  // namespace

void clock_init() {
  if (kvmclock_available()) {
    arch::wrmsr(MSR_KVM_SYSTEM_TIME_NEW, reinterpret_cast<uint64_t>(&g_pvclock) | 1);
    PvclockSnapshot s = read_pvclock();
    if (s.mul != 0) {
      g_source = ClockSource::kKvmClock;
      // mul/2^32 ns per (shifted) cycle => kHz = 1e6 * 2^32 / mul, undone shift.
      uint64_t khz = (1000000ull << 32) / s.mul;
      g_tsc_khz = s.shift < 0 ? khz << -s.shift : khz >> s.shift;
      return;
    }
  }
  g_tsc_khz = cpuid_tsc_khz();
  g_source = ClockSource::kCpuidTsc;
  if (g_tsc_khz == 0) {
    g_tsc_khz = 2000000;  // no way to know: assume 2 GHz so time still advances
    g_source = ClockSource::kAssumedTsc;
  }
  g_ns_per_cycle_q32 = (1000000ull << 32) / g_tsc_khz;
}

uint64_t tsc_delta_to_ns(uint64_t cycles) {
  if (g_source == ClockSource::kKvmClock) {
    PvclockSnapshot s = read_pvclock();
    return scale(cycles, s.mul, s.shift);
  }
  return static_cast<uint64_t>((static_cast<unsigned __int128>(cycles) * g_ns_per_cycle_q32) >> 32);
}

uint64_t now_ns() {
  if (g_source == ClockSource::kKvmClock) {
    PvclockSnapshot s = read_pvclock();
    uint64_t tsc = arch::rdtsc();
    uint64_t delta = tsc > s.tsc_timestamp ? tsc - s.tsc_timestamp : 0;
    return s.system_time + scale(delta, s.mul, s.shift);
  }
  return tsc_delta_to_ns(arch::rdtsc());
}

ClockSource clock_source() { return g_source; }

const char* clock_source_name() {
  switch (g_source) {
    case ClockSource::kKvmClock: return "kvmclock";
    case ClockSource::kCpuidTsc: return "tsc-cpuid";
    case ClockSource::kAssumedTsc: return "tsc-assumed-2GHz";
  }
  return "?";
}

uint64_t tsc_khz() { return g_tsc_khz; }

}  // namespace tg::dev
