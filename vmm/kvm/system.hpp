// KvmSystem: the /dev/kvm file descriptor — capability checks, supported CPUID, and the
// size of each vCPU's shared kvm_run area. Immutable after open(); any thread may use it.
#pragma once

#include <linux/kvm.h>

#include <string>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/base/unique_fd.hpp"

namespace tide::vmm {

class KvmSystem {
 public:
  // Opens the KVM device. Errors carry a message a user can act on (missing module,
  // permissions).
  [[nodiscard]] static Result<KvmSystem> open(const std::string& path = "/dev/kvm");

  [[nodiscard]] int fd() const { return fd_.get(); }
  // KVM_CHECK_EXTENSION: 0 if absent, else the capability's value.
  [[nodiscard]] int check_extension(long cap) const;
  // Verifies every capability tide needs; one error naming all missing ones.
  [[nodiscard]] Status check_required() const;
  [[nodiscard]] Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;
  [[nodiscard]] size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }

 private:
  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
};

}  // namespace tide::vmm
