// VmFd: one KVM virtual machine — memslots and their dirty logs, in-kernel irqchip,
// irqfd/ioeventfd, GSI routing, vCPU creation. Calls are thread-safe in the kernel;
// set_gsi_routing replaces the whole table, so its callers serialize (KvmInterrupts does).
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
  // KVM_SET_USER_MEMORY_REGION. `flags`: KVM_MEM_* (KVM_MEM_LOG_DIRTY_PAGES). Registering a
  // slot again with the same range and other flags changes only its flags (the guest may run).
  [[nodiscard]] Status set_memory_region(uint32_t slot, uint64_t gpa, uint64_t size_bytes, void* host,
                                         uint32_t flags = 0);
  // KVM_ENABLE_CAP on the VM with one argument (e.g. KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2).
  [[nodiscard]] Status enable_cap(uint32_t cap, uint64_t arg0);
  // KVM_GET_DIRTY_LOG: copies the log of `slot` (which has KVM_MEM_LOG_DIRTY_PAGES) into
  // `bitmap`, bit i of the slot at bit i % 64 of word i / 64. `nr_pages` is the slot's size;
  // `bitmap` must hold ceil(nr_pages / 64) words. Without manual protection this also clears
  // the log and write-protects the pages that were dirty; with it, nothing changes.
  [[nodiscard]] Status get_dirty_log(uint32_t slot, uint64_t nr_pages, std::span<uint64_t> bitmap);
  // KVM_CLEAR_DIRTY_LOG (manual protection only): clears the set bits of `bitmap` (bit i =
  // page first_page + i of the slot) and write-protects those pages again. `first_page` is a
  // multiple of 64; `nr_pages` too, unless the range ends at the slot's end.
  [[nodiscard]] Status clear_dirty_log(uint32_t slot, uint64_t first_page, uint32_t nr_pages,
                                       std::span<uint64_t> bitmap);
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
