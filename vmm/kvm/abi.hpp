// KVM ABI pieces tide defines itself.
// 1. Debian 12's <linux/kvm.h> (6.1) declares flexible arrays with __DECLARE_FLEX_ARRAY, which
//    in C++ adds a 1-byte empty struct: sizeof(kvm_cpuid2) becomes 12, so the header's ioctl
//    numbers encode a wrong size and the kernel answers EINVAL. These are the real numbers,
//    built from the layouts of the C structures (checked below).
// 2. PVM (kvm_pvm) MSRs, from shared/design/PVM.md.
#pragma once

#include <linux/ioctl.h>
#include <linux/kvm.h>

#include <cstdint>

namespace tide::vmm::kvm_abi {

struct Cpuid2Header {  // struct kvm_cpuid2 without its entries
  uint32_t nent;
  uint32_t padding;
};
struct MsrsHeader {  // struct kvm_msrs without its entries
  uint32_t nmsrs;
  uint32_t pad;
};
struct MsrListHeader {  // struct kvm_msr_list without its indices
  uint32_t nmsrs;
};
struct IrqRoutingHeader {  // struct kvm_irq_routing without its entries
  uint32_t nr;
  uint32_t flags;
};

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Header);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
inline constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
inline constexpr unsigned long kSetGsiRouting = _IOW(KVMIO, 0x6a, IrqRoutingHeader);
#ifdef KVM_GET_STATS_FD
inline constexpr unsigned long kGetStatsFd = KVM_GET_STATS_FD;
#else
inline constexpr unsigned long kGetStatsFd = _IO(KVMIO, 0xce);
#endif

static_assert(kGetSupportedCpuid == 0xc008ae05UL);
static_assert(kSetCpuid2 == 0x4008ae90UL);
static_assert(kGetMsrs == 0xc008ae88UL);
static_assert(kSetMsrs == 0x4008ae89UL);
static_assert(kSetGsiRouting == 0x4008ae6aUL);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_msr_entry) == 16);
static_assert(sizeof(kvm_irq_routing_entry) == 48);

// PVM: MSR holding the VIF page GPA | flags. Written by the VMM it needs bit 10
// ("explicit mode state follows").
inline constexpr uint32_t kMsrPvmVif = 0x4b564d10;
inline constexpr uint64_t kPvmVifExplicitMode = 0x400;
// PVM: reads as kPvmSignature on a PVM host.
inline constexpr uint32_t kMsrPvmSignature = 0x4b564d11;
inline constexpr uint64_t kPvmSignature = 0x4d5650;  // "PVM"
inline constexpr uint32_t kMsrPvmFeatures = 0x4b564d12;

}  // namespace tide::vmm::kvm_abi
