// MSR accesses that may fault: a #GP on the rdmsr/wrmsr in isr_stubs.S is turned into a
// `false` return by the exception dispatcher (interrupts.cpp), as Linux's rdmsr_safe.
// Needs at least the #GP IDT gate loaded.
#pragma once

#include <cstdint>

extern "C" {
bool tg_safe_rdmsr(uint32_t msr, uint64_t* value);
bool tg_safe_wrmsr(uint32_t msr, uint64_t value);
extern char tg_safe_rdmsr_insn[], tg_safe_rdmsr_fixup[];
extern char tg_safe_wrmsr_insn[], tg_safe_wrmsr_fixup[];
}

namespace tg::arch {

inline bool safe_rdmsr(uint32_t msr, uint64_t* value) { return tg_safe_rdmsr(msr, value); }
inline bool safe_wrmsr(uint32_t msr, uint64_t value) { return tg_safe_wrmsr(msr, value); }

}  // namespace tg::arch
