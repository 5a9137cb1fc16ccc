#include "vmm/kvm/host_kind.hpp"

#include "vmm/kvm/abi.hpp"
#include "vmm/kvm/system.hpp"
#include "vmm/kvm/vm_fd.hpp"

namespace tide::vmm {

HostKind detect_host_kind(const VcpuFd& vcpu) {
  auto sig = vcpu.get_msr(kvm_abi::kMsrPvmSignature);
  return (sig && *sig == kvm_abi::kPvmSignature) ? HostKind::pvm : HostKind::hardware;
}

const char* host_kind_name(HostKind kind) {
  return kind == HostKind::pvm ? "PVM (kvm_pvm: only cooperating guests run natively)"
                               : "hardware virtualization (VMX/SVM)";
}

std::string probe_host_kind_text() {
  auto kvm = KvmSystem::open();
  if (!kvm) return "unavailable (" + kvm.error().message() + ")";
  auto vm = VmFd::create(*kvm);
  if (!vm) return "unavailable (" + vm.error().message() + ")";
  auto vcpu = vm->create_vcpu(0, kvm->vcpu_mmap_size());
  if (!vcpu) return "unavailable (" + vcpu.error().message() + ")";
  return host_kind_name(detect_host_kind(*vcpu));
}

}  // namespace tide::vmm
