// VcpuFd: one KVM vCPU — its fd and its shared kvm_run area (mapped here, unmapped on
// destruction). Only the vCPU's own thread calls run(); register access is for that thread
// too, or for set-up before the thread starts.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>

#include "guestmm/base/error.hpp"
#include "guestmm/base/unique_fd.hpp"

namespace tide::vmm {

class VcpuFd {
 public:
  VcpuFd() = default;
  VcpuFd(const VcpuFd&) = delete;
  VcpuFd& operator=(const VcpuFd&) = delete;
  VcpuFd(VcpuFd&& o) noexcept;
  VcpuFd& operator=(VcpuFd&& o) noexcept;
  ~VcpuFd();

  [[nodiscard]] static Result<VcpuFd> adopt(UniqueFd fd, uint32_t id, size_t mmap_size);

  [[nodiscard]] uint32_t id() const { return id_; }
  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] kvm_run* run_area() const { return run_; }
  // The data bytes of a KVM_EXIT_IO exit (count * size bytes inside the kvm_run area).
  [[nodiscard]] std::span<uint8_t> io_data() const;

  // KVM_RUN once. Returns false (with no error) when interrupted by a signal (EINTR) or
  // an immediate_exit request; an error for anything else.
  [[nodiscard]] Result<bool> run();

  [[nodiscard]] Result<kvm_regs> get_regs() const;
  [[nodiscard]] Status set_regs(const kvm_regs& regs) const;
  [[nodiscard]] Result<kvm_sregs> get_sregs() const;
  [[nodiscard]] Status set_sregs(const kvm_sregs& sregs) const;
  [[nodiscard]] Status set_cpuid(std::span<const kvm_cpuid_entry2> entries) const;
  [[nodiscard]] Status set_msrs(std::span<const std::pair<uint32_t, uint64_t>> msrs) const;
  [[nodiscard]] Result<uint64_t> get_msr(uint32_t index) const;
  [[nodiscard]] Status set_mp_state(uint32_t state) const;

  // KVM binary statistics of this vCPU (KVM_GET_STATS_FD), name -> value; empty on kernels
  // without it.
  [[nodiscard]] Result<std::map<std::string, uint64_t>> stats() const;

 private:
  UniqueFd fd_;
  uint32_t id_ = 0;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
};

}  // namespace tide::vmm
