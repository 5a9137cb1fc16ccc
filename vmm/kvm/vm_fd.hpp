// VmFd: one KVM virtual machine — memslots, in-kernel irqchip, irqfd/ioeventfd, GSI routing,
// vCPU creation. Calls are thread-safe in the kernel; set_gsi_routing replaces the whole
// table, so its callers serialize (KvmInterrupts does).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>

#include "guestmm/base/error.hpp"
#include "guestmm/base/unique_fd.hpp"
#include "vmm/kvm/system.hpp"
#include "vmm/kvm/vcpu_fd.hpp"

namespace tide::vmm {

class VmFd {
 public:
  [[nodiscard]] static Result<VmFd> create(const KvmSystem& kvm);

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] int check_extension(long cap) const;

  // In-kernel LAPIC/IOAPIC/PIC; also sets the TSS/identity-map pages where KVM needs them.
  [[nodiscard]] Status create_irqchip();
  [[nodiscard]] Status set_memory_region(uint32_t slot, uint64_t gpa, uint64_t size_bytes, void* host);
  [[nodiscard]] Result<VcpuFd> create_vcpu(uint32_t id, size_t mmap_size);

  [[nodiscard]] Status irqfd(int eventfd, uint32_t gsi, bool assign);
  [[nodiscard]] Status ioeventfd(int eventfd, uint64_t addr, uint32_t len,
                                 std::optional<uint64_t> datamatch, bool assign);
  [[nodiscard]] Status set_gsi_routing(std::span<const kvm_irq_routing_entry> entries);
  [[nodiscard]] Status irq_line(uint32_t irq, bool level);

 private:
  UniqueFd fd_;
};

}  // namespace tide::vmm
