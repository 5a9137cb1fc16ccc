// Which kind of KVM host this is (ARCHITECTURE.md §5, shared/design/PVM.md): hardware
// virtualization (VMX/SVM), where any guest runs natively, or PVM, where only a guest that
// cooperates (long mode, VIF page, U/S=1 mappings) runs natively. Asked of KVM itself,
// never of /proc/cpuinfo.
#pragma once

#include <string>

#include "vmm/kvm/vcpu_fd.hpp"

namespace tide::vmm {

enum class HostKind { hardware, pvm };

// Asks a vCPU: the PVM signature MSR reads as "PVM" only on a PVM host.
[[nodiscard]] HostKind detect_host_kind(const VcpuFd& vcpu);
// Creates a throwaway VM to ask (for `tide --version`); falls back to "unknown" text on error.
[[nodiscard]] std::string probe_host_kind_text();
[[nodiscard]] const char* host_kind_name(HostKind kind);

}  // namespace tide::vmm
