// PVM detection and VIF registration (see pvm.hpp).
#include "arch/pvm.hpp"

#include "arch/msr_probe.hpp"
#include "arch/x86.hpp"

namespace tg::arch {
namespace {

// PVM's MSRs and values, as measured on the host (shared/design/PVM.md).
constexpr uint32_t kMsrPvmVif = 0x4b564d10;
constexpr uint32_t kMsrPvmSignature = 0x4b564d11;
constexpr uint32_t kMsrPvmFeatures = 0x4b564d12;
constexpr uint64_t kPvmSignature = 0x4d5650;  // "PVM"
// "Explicit mode state follows": without it the first trapped instruction triple-faults.
// Bit 0 (upper-half TSS stacks) stays clear: this kernel lives in the lower half.
constexpr uint64_t kVifExplicitModeState = 0x400;

alignas(4096) uint8_t g_vif[4096];
bool g_on_pvm = false;
uint64_t g_features = 0;

}  // namespace

bool pvm_enter_native() {
  uint64_t signature = 0;
  if (!safe_rdmsr(kMsrPvmSignature, &signature) || signature != kPvmSignature) return false;
  g_on_pvm = true;
  if (!safe_rdmsr(kMsrPvmFeatures, &g_features)) g_features = 0;
  // Interrupts stay virtually disabled (IF byte 0) until irq_enable().
  wrmsr(kMsrPvmVif, vif_page_gpa() | kVifExplicitModeState);
  return true;
}

bool on_pvm() { return g_on_pvm; }
uint64_t pvm_features() { return g_features; }
VifPage& vif_page() { return *reinterpret_cast<VifPage*>(g_vif); }
uint64_t vif_page_gpa() { return reinterpret_cast<uint64_t>(g_vif); }

}  // namespace tg::arch
