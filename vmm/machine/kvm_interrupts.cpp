#include "vmm/machine/kvm_interrupts.hpp"

#include <vector>

#include "guestmm/base/log.hpp"

namespace tide::vmm {
namespace {

class KvmMsiVector final : public dev::MsiVector {
 public:
  KvmMsiVector(KvmInterrupts& owner, uint32_t gsi, EventFd fd)
      : owner_(owner), gsi_(gsi), fd_(std::move(fd)) {}
  ~KvmMsiVector() override { owner_.release_msi(gsi_, fd_.fd()); }

  Status set_message(const dev::MsiMessage& message) override { return owner_.set_msi_route(gsi_, message); }
  void trigger() override {
    fd_.signal();
    owner_.count_trigger();
    owner_.wake_vcpus();
  }

 private:
  KvmInterrupts& owner_;
  uint32_t gsi_;
  EventFd fd_;
};

// The kernel's default routing (arch/x86/kvm/irq_comm.c): GSIs 0..15 reach both the PIC
// and the IOAPIC pin of the same number, 16..23 only the IOAPIC. KVM_SET_GSI_ROUTING
// replaces the whole table, so these must be repeated beside the MSI routes.
void add_default_routes(std::vector<kvm_irq_routing_entry>& out) {
  for (uint32_t gsi = 0; gsi < 24; ++gsi) {
    if (gsi < 16) {
      kvm_irq_routing_entry pic{};
      pic.gsi = gsi;
      pic.type = KVM_IRQ_ROUTING_IRQCHIP;
      pic.u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
      pic.u.irqchip.pin = gsi % 8;
      out.push_back(pic);
    }
    kvm_irq_routing_entry io{};
    io.gsi = gsi;
    io.type = KVM_IRQ_ROUTING_IRQCHIP;
    io.u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
    io.u.irqchip.pin = gsi;
    out.push_back(io);
  }
}

}  // namespace

Status KvmInterrupts::init() {
  std::lock_guard lock(mutex_);
  return push_routes_locked();
}

Status KvmInterrupts::push_routes_locked() {
  std::vector<kvm_irq_routing_entry> entries;
  add_default_routes(entries);
  for (const auto& [gsi, msg] : msi_routes_) {
    kvm_irq_routing_entry e{};
    e.gsi = gsi;
    e.type = KVM_IRQ_ROUTING_MSI;
    e.u.msi.address_lo = static_cast<uint32_t>(msg.address);
    e.u.msi.address_hi = static_cast<uint32_t>(msg.address >> 32);
    e.u.msi.data = msg.data;
    entries.push_back(e);
  }
  return vm_.set_gsi_routing(entries);
}

Result<std::unique_ptr<dev::MsiVector>> KvmInterrupts::allocate_msi() {
  TIDE_TRY_ASSIGN(fd, EventFd::create());
  std::lock_guard lock(mutex_);
  uint32_t gsi = next_gsi_++;
  // A route must exist before the irqfd is bound; an all-zero MSI goes nowhere harmful
  // until the guest programs the vector.
  msi_routes_[gsi] = dev::MsiMessage{};
  if (auto st = push_routes_locked(); !st) {
    msi_routes_.erase(gsi);
    return st.error();
  }
  if (auto st = vm_.irqfd(fd.fd(), gsi, true); !st) {
    msi_routes_.erase(gsi);
    (void)push_routes_locked();
    return st.error();
  }
  return std::unique_ptr<dev::MsiVector>(new KvmMsiVector(*this, gsi, std::move(fd)));
}

Status KvmInterrupts::set_msi_route(uint32_t gsi, const dev::MsiMessage& msg) {
  std::lock_guard lock(mutex_);
  auto it = msi_routes_.find(gsi);
  if (it == msi_routes_.end()) return make_error(std::errc::invalid_argument, "unknown MSI route");
  if (it->second == msg) return ok();
  it->second = msg;
  return push_routes_locked();
}

void KvmInterrupts::release_msi(uint32_t gsi, int eventfd) {
  std::lock_guard lock(mutex_);
  if (auto st = vm_.irqfd(eventfd, gsi, false); !st) log::warn("%s", st.error().message().c_str());
  msi_routes_.erase(gsi);
  if (auto st = push_routes_locked(); !st) log::warn("%s", st.error().message().c_str());
}

void KvmInterrupts::set_irq_line(uint32_t gsi, bool level) {
  if (auto st = vm_.irq_line(gsi, level); !st) log::warn("%s", st.error().message().c_str());
  if (level) waker_.wake();
}

}  // namespace tide::vmm
