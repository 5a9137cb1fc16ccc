// KvmInterrupts: tide::dev::InterruptController on KVM. Legacy lines go through
// KVM_IRQ_LINE to the in-kernel PIC/IOAPIC; each MSI vector is a GSI with an MSI route and
// an irqfd, so trigger() is one eventfd write from any thread. The routing table (the
// kernel's default PIC/IOAPIC routes plus the MSI routes) is rebuilt under one mutex.
#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "devices/interrupts.hpp"
#include "vmm/kvm/eventfd.hpp"
#include "vmm/kvm/vm_fd.hpp"
#include "vmm/machine/vcpu_waker.hpp"

namespace tide::vmm {

class KvmInterrupts final : public dev::InterruptController {
 public:
  KvmInterrupts(VmFd& vm, VcpuWaker& waker) : vm_(vm), waker_(waker) {}

  // Installs the default routes (call once, after the irqchip exists).
  [[nodiscard]] Status init();

  [[nodiscard]] Result<std::unique_ptr<dev::MsiVector>> allocate_msi() override;
  void set_irq_line(uint32_t gsi, bool level) override;
  void wake_vcpus() override { waker_.wake(); }

  // Used by KvmMsiVector.
  [[nodiscard]] Status set_msi_route(uint32_t gsi, const dev::MsiMessage& msg);
  void release_msi(uint32_t gsi, int eventfd);
  [[nodiscard]] uint64_t msi_triggers() const { return msi_triggers_.load(std::memory_order_relaxed); }
  void count_trigger() { msi_triggers_.fetch_add(1, std::memory_order_relaxed); }

 private:
  [[nodiscard]] Status push_routes_locked();

  VmFd& vm_;
  VcpuWaker& waker_;
  mutable std::mutex mutex_;
  uint32_t next_gsi_ = 24;  // GSIs 0..23 are the IOAPIC pins
  std::map<uint32_t, dev::MsiMessage> msi_routes_;
  std::atomic<uint64_t> msi_triggers_{0};
};

}  // namespace tide::vmm
