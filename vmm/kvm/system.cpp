#include "vmm/kvm/system.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cstring>

#include "guestmm/base/log.hpp"
#include "vmm/kvm/abi.hpp"

namespace tide::vmm {
namespace {

struct RequiredCap {
  long cap;
  const char* name;
};
constexpr RequiredCap kRequired[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"}, {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},             {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"}, {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"}, {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
};

}  // namespace

Result<KvmSystem> KvmSystem::open(const std::string& path) {
  KvmSystem k;
  k.fd_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!k.fd_) {
    int e = errno;
    std::string hint = e == ENOENT ? " (no KVM on this host: load kvm_intel, kvm_amd or kvm_pvm)"
                       : e == EACCES ? " (permission denied: run as root or join the kvm group)"
                                     : "";
    return Error{std::error_code(e, std::generic_category()), "open " + path + hint, true};
  }
  int api = ::ioctl(k.fd_.get(), KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION) {
    return make_error(std::errc::not_supported, log::strf("KVM API version %d, tide needs %d", api, KVM_API_VERSION));
  }
  int sz = ::ioctl(k.fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (sz <= 0) return errno_error("KVM_GET_VCPU_MMAP_SIZE");
  k.vcpu_mmap_size_ = static_cast<size_t>(sz);
  return k;
}

int KvmSystem::check_extension(long cap) const {
  int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

Status KvmSystem::check_required() const {
  std::string missing;
  for (const RequiredCap& c : kRequired) {
    if (check_extension(c.cap) <= 0) {
      if (!missing.empty()) missing += ", ";
      missing += c.name;
    }
  }
  if (!missing.empty()) {
    return make_error(std::errc::not_supported, "this KVM lacks capabilities tide needs: " + missing);
  }
  return ok();
}

Result<std::vector<kvm_cpuid_entry2>> KvmSystem::supported_cpuid() const {
  // Grow until the kernel stops answering E2BIG (QEMU does the same).
  for (uint32_t n = 64; n <= 4096; n *= 2) {
    std::vector<std::byte> buf(sizeof(kvm_abi::Cpuid2Header) + n * sizeof(kvm_cpuid_entry2));
    kvm_abi::Cpuid2Header hdr{n, 0};
    std::memcpy(buf.data(), &hdr, sizeof hdr);
    if (::ioctl(fd_.get(), kvm_abi::kGetSupportedCpuid, buf.data()) == 0) {
      std::memcpy(&hdr, buf.data(), sizeof hdr);
      std::vector<kvm_cpuid_entry2> entries(hdr.nent);
      std::memcpy(entries.data(), buf.data() + sizeof hdr, hdr.nent * sizeof(kvm_cpuid_entry2));
      return entries;
    }
    if (errno != E2BIG) return errno_error("KVM_GET_SUPPORTED_CPUID");
  }
  return make_error(std::errc::value_too_large, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

}  // namespace tide::vmm
