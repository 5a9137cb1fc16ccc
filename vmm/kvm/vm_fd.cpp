#include "vmm/kvm/vm_fd.hpp"

#include <sys/ioctl.h>

#include <cstring>
#include <vector>

#include "guestmm/base/log.hpp"
#include "vmm/kvm/abi.hpp"

namespace tide::vmm {

Result<VmFd> VmFd::create(const KvmSystem& kvm) {
  VmFd vm;
  vm.fd_.reset(::ioctl(kvm.fd(), KVM_CREATE_VM, 0));
  if (!vm.fd_) return errno_error("KVM_CREATE_VM");
  return vm;
}

int VmFd::check_extension(long cap) const {
  int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

Status VmFd::create_irqchip() {
  // Intel VMX needs three pages for real-mode emulation below 4 GiB; elsewhere harmless.
  if (check_extension(KVM_CAP_SET_TSS_ADDR) > 0) {
    if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, 0xfffbd000UL) != 0) return errno_error("KVM_SET_TSS_ADDR");
    uint64_t ident = 0xfffbc000;
    if (check_extension(KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
        ::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &ident) != 0) {
      return errno_error("KVM_SET_IDENTITY_MAP_ADDR");
    }
  }
  if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) != 0) return errno_error("KVM_CREATE_IRQCHIP");
  return ok();
}

Status VmFd::set_memory_region(uint32_t slot, uint64_t gpa, uint64_t size_bytes, void* host, uint32_t flags) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = gpa;
  r.memory_size = size_bytes;
  r.userspace_addr = reinterpret_cast<uint64_t>(host);
  if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &r) != 0) {
    return errno_error(log::strf("KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size %llu MiB flags 0x%x", slot,
                                 static_cast<unsigned long long>(gpa),
                                 static_cast<unsigned long long>(size_bytes >> 20), flags));
  }
  return ok();
}

Status VmFd::enable_cap(uint32_t cap, uint64_t arg0) {
  kvm_enable_cap c{};
  c.cap = cap;
  c.args[0] = arg0;
  if (::ioctl(fd_.get(), KVM_ENABLE_CAP, &c) != 0) return errno_error(log::strf("KVM_ENABLE_CAP %u", cap));
  return ok();
}

Status VmFd::get_dirty_log(uint32_t slot, uint64_t nr_pages, std::span<uint64_t> bitmap) {
  if (bitmap.size() < (nr_pages + 63) / 64) {
    return make_error(std::errc::invalid_argument, "KVM_GET_DIRTY_LOG: bitmap shorter than the slot");
  }
  // The kernel writes ceil(slot pages / 64) words, checked above against the caller's size.
  kvm_dirty_log d{};
  d.slot = slot;
  d.dirty_bitmap = bitmap.data();
  if (::ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &d) != 0) return errno_error(log::strf("KVM_GET_DIRTY_LOG slot %u", slot));
  return ok();
}

Status VmFd::clear_dirty_log(uint32_t slot, uint64_t first_page, uint32_t nr_pages, std::span<uint64_t> bitmap) {
  if (bitmap.size() < (uint64_t{nr_pages} + 63) / 64) {
    return make_error(std::errc::invalid_argument, "KVM_CLEAR_DIRTY_LOG: bitmap shorter than the range");
  }
  // The kernel reads ceil(nr_pages / 64) words, checked above.
  kvm_clear_dirty_log c{};
  c.slot = slot;
  c.first_page = first_page;
  c.num_pages = nr_pages;
  c.dirty_bitmap = bitmap.data();
  if (::ioctl(fd_.get(), KVM_CLEAR_DIRTY_LOG, &c) != 0) {
    return errno_error(log::strf("KVM_CLEAR_DIRTY_LOG slot %u pages %llu+%u", slot,
                                 static_cast<unsigned long long>(first_page), nr_pages));
  }
  return ok();
}

Result<VcpuFd> VmFd::create_vcpu(uint32_t id, size_t mmap_size) {
  UniqueFd fd(::ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id)));
  if (!fd) return errno_error(log::strf("KVM_CREATE_VCPU %u", id));
  return VcpuFd::adopt(std::move(fd), id, mmap_size);
}

Status VmFd::irqfd(int eventfd, uint32_t gsi, bool assign) {
  kvm_irqfd req{};
  req.fd = static_cast<uint32_t>(eventfd);
  req.gsi = gsi;
  req.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN;
  if (::ioctl(fd_.get(), KVM_IRQFD, &req) != 0) return errno_error(log::strf("KVM_IRQFD gsi %u", gsi));
  return ok();
}

Status VmFd::ioeventfd(int eventfd, uint64_t addr, uint32_t len, std::optional<uint64_t> datamatch,
                       bool assign) {
  kvm_ioeventfd req{};
  req.addr = addr;
  req.len = len;
  req.fd = eventfd;
  if (datamatch) {
    req.datamatch = *datamatch;
    req.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
  }
  if (!assign) req.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
  if (::ioctl(fd_.get(), KVM_IOEVENTFD, &req) != 0) {
    return errno_error(log::strf("KVM_IOEVENTFD 0x%llx", static_cast<unsigned long long>(addr)));
  }
  return ok();
}

Status VmFd::set_gsi_routing(std::span<const kvm_irq_routing_entry> entries) {
  std::vector<std::byte> buf(sizeof(kvm_abi::IrqRoutingHeader) + entries.size_bytes());
  kvm_abi::IrqRoutingHeader hdr{static_cast<uint32_t>(entries.size()), 0};
  std::memcpy(buf.data(), &hdr, sizeof hdr);
  if (!entries.empty()) std::memcpy(buf.data() + sizeof hdr, entries.data(), entries.size_bytes());
  if (::ioctl(fd_.get(), kvm_abi::kSetGsiRouting, buf.data()) != 0) return errno_error("KVM_SET_GSI_ROUTING");
  return ok();
}

Status VmFd::irq_line(uint32_t irq, bool level) {
  kvm_irq_level l{};
  l.irq = irq;
  l.level = level ? 1 : 0;
  if (::ioctl(fd_.get(), KVM_IRQ_LINE, &l) != 0) return errno_error(log::strf("KVM_IRQ_LINE %u", irq));
  return ok();
}

}  // namespace tide::vmm
