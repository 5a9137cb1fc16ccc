#include "vmm/kvm/vcpu_fd.hpp"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "guestmm/base/log.hpp"
#include "vmm/kvm/abi.hpp"

namespace tide::vmm {

VcpuFd::VcpuFd(VcpuFd&& o) noexcept
    : fd_(std::move(o.fd_)), id_(o.id_), run_(std::exchange(o.run_, nullptr)),
      run_size_(std::exchange(o.run_size_, 0)) {}

VcpuFd& VcpuFd::operator=(VcpuFd&& o) noexcept {
  if (this != &o) {
    if (run_) ::munmap(run_, run_size_);
    fd_ = std::move(o.fd_);
    id_ = o.id_;
    run_ = std::exchange(o.run_, nullptr);
    run_size_ = std::exchange(o.run_size_, 0);
  }
  return *this;
}

VcpuFd::~VcpuFd() {
  if (run_) ::munmap(run_, run_size_);
}

Result<VcpuFd> VcpuFd::adopt(UniqueFd fd, uint32_t id, size_t mmap_size) {
  void* p = ::mmap(nullptr, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return errno_error(log::strf("map kvm_run of vCPU %u", id));
  VcpuFd v;
  v.fd_ = std::move(fd);
  v.id_ = id;
  v.run_ = static_cast<kvm_run*>(p);  // the kernel's shared kvm_run layout
  v.run_size_ = mmap_size;
  return v;
}

std::span<uint8_t> VcpuFd::io_data() const {
  // Safe: KVM places the I/O data inside the kvm_run mapping at data_offset.
  auto* base = reinterpret_cast<uint8_t*>(run_);
  return {base + run_->io.data_offset, size_t{run_->io.size} * run_->io.count};
}

Result<bool> VcpuFd::run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) == 0) return true;
  if (errno == EINTR || errno == EAGAIN) return false;
  return errno_error(log::strf("KVM_RUN vCPU %u", id_));
}

Result<kvm_regs> VcpuFd::get_regs() const {
  kvm_regs r{};
  if (::ioctl(fd_.get(), KVM_GET_REGS, &r) != 0) return errno_error("KVM_GET_REGS");
  return r;
}

Status VcpuFd::set_regs(const kvm_regs& regs) const {
  if (::ioctl(fd_.get(), KVM_SET_REGS, &regs) != 0) return errno_error("KVM_SET_REGS");
  return ok();
}

Result<kvm_sregs> VcpuFd::get_sregs() const {
  kvm_sregs s{};
  if (::ioctl(fd_.get(), KVM_GET_SREGS, &s) != 0) return errno_error("KVM_GET_SREGS");
  return s;
}

Status VcpuFd::set_sregs(const kvm_sregs& sregs) const {
  if (::ioctl(fd_.get(), KVM_SET_SREGS, &sregs) != 0) return errno_error("KVM_SET_SREGS");
  return ok();
}

Status VcpuFd::set_cpuid(std::span<const kvm_cpuid_entry2> entries) const {
  std::vector<std::byte> buf(sizeof(kvm_abi::Cpuid2Header) + entries.size_bytes());
  kvm_abi::Cpuid2Header hdr{static_cast<uint32_t>(entries.size()), 0};
  std::memcpy(buf.data(), &hdr, sizeof hdr);
  std::memcpy(buf.data() + sizeof hdr, entries.data(), entries.size_bytes());
  if (::ioctl(fd_.get(), kvm_abi::kSetCpuid2, buf.data()) != 0) return errno_error("KVM_SET_CPUID2");
  return ok();
}

Status VcpuFd::set_msrs(std::span<const std::pair<uint32_t, uint64_t>> msrs) const {
  std::vector<std::byte> buf(sizeof(kvm_abi::MsrsHeader) + msrs.size() * sizeof(kvm_msr_entry));
  kvm_abi::MsrsHeader hdr{static_cast<uint32_t>(msrs.size()), 0};
  std::memcpy(buf.data(), &hdr, sizeof hdr);
  for (size_t i = 0; i < msrs.size(); ++i) {
    kvm_msr_entry e{};
    e.index = msrs[i].first;
    e.data = msrs[i].second;
    std::memcpy(buf.data() + sizeof hdr + i * sizeof e, &e, sizeof e);
  }
  // KVM_SET_MSRS returns how many MSRs it set; fewer means the first missing one failed.
  int n = ::ioctl(fd_.get(), kvm_abi::kSetMsrs, buf.data());
  if (n < 0) return errno_error("KVM_SET_MSRS");
  if (static_cast<size_t>(n) != msrs.size()) {
    return make_error(std::errc::invalid_argument,
                      log::strf("KVM_SET_MSRS refused MSR 0x%x", msrs[static_cast<size_t>(n)].first));
  }
  return ok();
}

Result<uint64_t> VcpuFd::get_msr(uint32_t index) const {
  struct {
    kvm_abi::MsrsHeader hdr;
    kvm_msr_entry entry;
  } req{};
  req.hdr.nmsrs = 1;
  req.entry.index = index;
  int n = ::ioctl(fd_.get(), kvm_abi::kGetMsrs, &req);
  if (n < 0) return errno_error("KVM_GET_MSRS");
  if (n != 1) return make_error(std::errc::invalid_argument, log::strf("MSR 0x%x is not readable", index));
  return req.entry.data;
}

Status VcpuFd::set_mp_state(uint32_t state) const {
  kvm_mp_state s{state};
  if (::ioctl(fd_.get(), KVM_SET_MP_STATE, &s) != 0) return errno_error("KVM_SET_MP_STATE");
  return ok();
}

Result<std::map<std::string, uint64_t>> VcpuFd::stats() const {
  std::map<std::string, uint64_t> out;
  UniqueFd sfd(::ioctl(fd_.get(), kvm_abi::kGetStatsFd, 0));
  if (!sfd) return out;
  kvm_stats_header hdr{};
  if (::pread(sfd.get(), &hdr, sizeof hdr, 0) != static_cast<ssize_t>(sizeof hdr)) {
    return errno_error("read KVM stats header");
  }
  // Each descriptor is the fixed part followed by name_size bytes of name.
  constexpr size_t kFixed = 16;  // flags, exponent, size, offset, bucket_size
  size_t desc_size = kFixed + hdr.name_size;
  std::vector<char> descs(desc_size * hdr.num_desc);
  if (::pread(sfd.get(), descs.data(), descs.size(), hdr.desc_offset) != static_cast<ssize_t>(descs.size())) {
    return errno_error("read KVM stats descriptors");
  }
  for (uint32_t i = 0; i < hdr.num_desc; ++i) {
    const char* d = descs.data() + i * desc_size;
    uint16_t size = 0;
    uint32_t offset = 0;
    std::memcpy(&size, d + 6, sizeof size);
    std::memcpy(&offset, d + 8, sizeof offset);
    std::string name(d + kFixed, strnlen(d + kFixed, hdr.name_size));
    if (size == 0) continue;
    uint64_t value = 0;
    if (::pread(sfd.get(), &value, sizeof value, hdr.data_offset + offset) == static_cast<ssize_t>(sizeof value)) {
      out.emplace(std::move(name), value);
    }
  }
  return out;
}

}  // namespace tide::vmm
