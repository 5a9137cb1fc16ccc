#include "vmm/machine/machine.hpp"

#include "devices/pci/config_io.hpp"
#include "devices/pci/ecam.hpp"
#include "devices/platform/debug_exit.hpp"
#include "devices/platform/test_hooks.hpp"
#include "devices/platform/wait_port.hpp"
#include "guestmm/base/log.hpp"
#include "vmm/machine/layout.hpp"

namespace tide::vmm {

Result<std::unique_ptr<Machine>> Machine::create(const KvmSystem& kvm, MachineMemory memory, MachineConfig config,
                                                 EventLoop& events) {
  if (config.vm.memory_bytes < layout::kMinMemory || config.vm.memory_bytes > layout::kMaxMemory ||
      !gmm::page_aligned(config.vm.memory_bytes)) {
    return make_error(std::errc::invalid_argument,
                      log::strf("guest memory must be a multiple of 4 KiB between %llu MiB and %llu GiB",
                                static_cast<unsigned long long>(layout::kMinMemory >> 20),
                                static_cast<unsigned long long>(layout::kMaxMemory >> 30)));
  }
  std::unique_ptr<Machine> m(new Machine(std::move(config)));
  const auto ranges = layout::ram_ranges(m->config_.vm.memory_bytes);
  std::vector<gmm::MemoryRegion> regions;
  if (memory.manager) {
    TIDE_TRY(m->add_guest_memory(*memory.manager, ranges));
    regions = m->guest_mm_->regions();
  } else if (memory.flat_pool) {
    TIDE_TRY_ASSIGN(flat, gmm::GuestRam::create_flat(*memory.flat_pool, 0, ranges));
    m->flat_ = std::move(flat);
    regions = m->flat_->regions();
  } else {
    return make_error(std::errc::invalid_argument, "a machine needs memory");
  }
  TIDE_TRY_ASSIGN(vm, Vm::create(kvm, regions, m->config_.vm, events));
  m->vm_ = std::move(vm);
  if (m->guest_mm_) {
    m->dirty_log_ = start_guest_dirty_log_reader(*m->vm_, *m->manager_, *m->guest_mm_, m->config_.dirty_log_aging);
  }
  m->memory_ = m->vm_->memory();
  TIDE_TRY(m->add_platform_devices());
  TIDE_TRY(m->add_pci_devices());
  m->set_memory_hooks();
  return m;
}

Status Machine::add_guest_memory(gmm::MemoryManager& manager, const std::vector<gmm::RamRange>& ranges) {
  const std::string& name = config_.vm.name;
  const MachineMemcg& cg = config_.memcg;
  auto parent = ensure_memcg_group(manager.memcg(), cg.group);
  if (!parent) return prefixed(parent.error(), name);
  gmm::reclaim::GuestLimitsOptions limits;
  limits.parent = *parent;
  limits.oom_policy = cg.oom_policy;
  limits.swappiness = cg.swappiness;
  limits.swap_bytes = cg.swap_bytes;
  limits.swap_directory = cg.swap_directory;
  auto guest = manager.add_guest(name, ranges, std::move(limits));
  if (!guest) return prefixed(guest.error(), name);
  manager_ = &manager;
  guest_mm_ = *guest;  // from here on the destructor gives it back
  // The leaf is empty: no limit written now can need reclaim, so one that fails is one
  // tide cannot apply at all, and the machine is not made.
  for (const MemcgLimitSetting& l : cg.limits) {
    if (auto st = manager.set_memcg_limit(guest_mm_->memcg_id(), l.limit, l.pages); !st) {
      return prefixed(st.error(), name + ": " + memcg_file_name(l.limit) + " " + gmm::memcg::format_limit(l.pages));
    }
  }
  return ok();
}

void Machine::set_memory_hooks() {
  if (!guest_mm_) return;
  gmm::reclaim::GuestHooks hooks;
  // The reclaim thread must not wait for the guest's teardown (which waits for it): the
  // stop is only a request; whoever waits on the machine tears it down.
  Vm* vm = vm_.get();
  hooks.oom_stop = [vm](const std::string& reason) { vm->request_stop(VmExit{VmExit::Kind::stopped, 1, reason}); };
  if (BalloonController* c = balloon_controller_.get()) {
    hooks.balloon_reclaim = [c](uint64_t pages) { return c->reclaim_for_pressure(pages); };
  }
  guest_mm_->set_hooks(std::move(hooks));
}

Machine::~Machine() {
  if (guest_mm_) {
    // The reclaim thread copies a guest's hooks and calls them under its work lock: once
    // they are cleared and that lock was free once, no call into this machine is left.
    guest_mm_->set_hooks({});
    auto round = manager_->reclaim_engine().lock();
  }
  if (vm_) {
    vm_->request_stop(VmExit{VmExit::Kind::stopped, 0, "machine destroyed"});
    vm_->wait();
    dirty_log_.reset();  // no more log reads nor marks on the guest's lists
    balloon_controller_.reset();  // no more stats requests or targets from the timer
    rng_transport_.reset();
    balloon_transport_.reset();
    pci_.reset();  // unmaps BARs: the transports go, releasing MSI routes and doorbells
    // KVM waits for its async page-fault workers when the VM is destroyed; one blocked on
    // a fault that can no longer be served (pool exhausted) would hang us: release them.
    if (guest_mm_) {
      if (auto st = guest_mm_->retire_window(); !st) log::warn("%s", st.error().message().c_str());
    }
    vm_.reset();
  }
  // Nothing touches the window any more: its frames go back to the pool.
  if (guest_mm_) manager_->remove_guest(guest_mm_);
}

Status Machine::add_platform_devices() {
  Vm& vm = *vm_;
  auto sink = config_.console ? config_.console : [](std::span<const uint8_t>) {};
  uart_ = std::make_shared<dev::Uart8250>(vm.interrupts(), std::move(sink), layout::kCom1Irq);
  TIDE_TRY(vm.pio().insert(layout::kCom1, 8, uart_));
  TIDE_TRY(vm.pio().insert(layout::kDebugExit, dev::DebugExit::kLength,
                           std::make_shared<dev::DebugExit>([&vm](uint32_t status) {
                             vm.request_stop(VmExit{VmExit::Kind::debug_exit, static_cast<int>(status & 0xff),
                                                    log::strf("the guest wrote %u to the debug-exit port", status)});
                           })));
  TIDE_TRY(vm.pio().insert(layout::kWaitPort, dev::WaitPort::kLength,
                           std::make_shared<dev::WaitPort>([&vm](uint32_t us) { vm.wait_port_sleep(us); })));
  if (config_.test_hooks) {
    if (!guest_mm_) return make_error(std::errc::invalid_argument, "--test-hooks needs tide's memory backend");
    gmm::GuestMm* guest = guest_mm_;
    gmm::MemoryManager* manager = manager_;
    auto release = [guest, manager](uint64_t gfn, uint32_t count) -> Result<uint64_t> {
      TIDE_TRY_ASSIGN(r, guest->release_range(gmm::Gfn(gfn), count, gmm::PageState::empty));
      // Answer once the host memory is really back, so tests are exact.
      TIDE_TRY(manager->scrubber().flush());
      if (r.outside) {
        return make_error(std::errc::invalid_argument,
                          log::strf("%llu of the pages are not RAM", static_cast<unsigned long long>(r.outside)));
      }
      return r.released;
    };
    TIDE_TRY(vm.pio().insert(dev::TestHooks::kBase, dev::TestHooks::kLength, std::make_shared<dev::TestHooks>(release)));
  }
  return ok();
}

Status Machine::add_pci_devices() {
  Vm& vm = *vm_;
  pci_ = std::make_shared<dev::PciRoot>(vm.mmio(), &vm.pio(), layout::kPciMmio32Base, layout::kPciMmio32Size);
  TIDE_TRY(vm.pio().insert(dev::PciConfigIo::kBase, dev::PciConfigIo::kLength, std::make_shared<dev::PciConfigIo>(pci_)));
  TIDE_TRY(vm.mmio().insert(layout::kEcamBase, layout::kEcamSize, std::make_shared<dev::PciEcam>(pci_)));
  if (config_.rng) {
    rng_ = std::make_shared<dev::VirtioRng>();
    TIDE_TRY_ASSIGN(transport, dev::VirtioPciDevice::create(rng_, memory_, vm.interrupts(), vm.doorbells()));
    rng_transport_ = transport;
    TIDE_TRY(pci_->add_device(transport));
  }
  if (config_.balloon) {
    if (!guest_mm_) return make_error(std::errc::invalid_argument, "the balloon needs tide's memory backend");
    const MachineBalloon& b = *config_.balloon;
    if (b.initial_target_bytes > config_.vm.memory_bytes) {
      return make_error(std::errc::invalid_argument, "the balloon's initial size is larger than the guest's memory");
    }
    balloon_backend_ = std::make_unique<GuestBalloonBackend>(*guest_mm_);
    balloon::BalloonDeviceOptions o;
    o.features = b.features;
    o.name = config_.vm.name + ": balloon";
    balloon_ = std::make_shared<balloon::BalloonDevice>(*balloon_backend_, o);
    (void)balloon_->set_target_pages(b.initial_target_bytes >> gmm::kPageShift);
    TIDE_TRY_ASSIGN(transport, dev::VirtioPciDevice::create(balloon_, memory_, vm.interrupts(), vm.doorbells()));
    balloon_transport_ = transport;
    TIDE_TRY(pci_->add_device(transport));
    balloon_controller_ = std::make_unique<BalloonController>(*balloon_, *manager_, b.control);
  }
  return ok();
}

std::map<std::string, uint64_t> Machine::balloon_queue_faults() const {
  std::map<std::string, uint64_t> out;
  if (!balloon_transport_) return out;
  for (uint16_t q = 0; q < balloon_transport_->num_queues(); ++q) {
    for (size_t k = 0; k < dev::kQueueFaultKinds; ++k) {
      const auto kind = static_cast<dev::QueueFault>(k);
      if (uint64_t n = balloon_transport_->queue(q).fault_count(kind)) out[dev::queue_fault_name(kind)] += n;
    }
  }
  return out;
}

Status Machine::start() {
  TIDE_TRY_ASSIGN(report, boot_pvh(*vm_, config_.boot));
  boot_report_ = report;
  return vm_->start();
}

}  // namespace tide::vmm
