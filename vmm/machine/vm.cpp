#include "vmm/machine/vm.hpp"

#include <algorithm>
#include <cstring>

#include "guestmm/base/log.hpp"
#include "vmm/boot/cpu_setup.hpp"
#include "vmm/kvm/thread.hpp"
#include "vmm/machine/layout.hpp"

namespace tide::vmm {
namespace {

thread_local int tls_vcpu_index = -1;

// Longest single sleep in the wait port (a guest that wants longer waits again); stopping
// the VM wakes sleepers at once whatever the timeout.
constexpr uint32_t kMaxWaitUs = 10'000'000;

// Pages re-armed per KVM_CLEAR_DIRTY_LOG call (a multiple of 64): bounds how long one call
// holds KVM's MMU lock against the vCPUs' faults.
constexpr uint64_t kClearChunkPages = 32768;

// Manual re-arming where KVM offers it (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): only the pages
// that were dirty are write-protected again, in chunks, and turning logging on (with
// INITIALLY_SET) does not sweep the whole slot inside the memslot update.
DirtyLogSupport enable_manual_dirty_log(VmFd& vm) {
  DirtyLogSupport s;
  const auto offered = static_cast<uint64_t>(vm.check_extension(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
  if ((offered & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) == 0) return s;
  const uint64_t want = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | (offered & KVM_DIRTY_LOG_INITIALLY_SET);
  if (auto st = vm.enable_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, want); !st) {
    log::debug("%s: dirty logs are read with KVM_GET_DIRTY_LOG alone", st.error().message().c_str());
    return s;
  }
  s.manual_clear = true;
  s.initially_set = (want & KVM_DIRTY_LOG_INITIALLY_SET) != 0;
  return s;
}

}  // namespace

Result<std::unique_ptr<Vm>> Vm::create(const KvmSystem& kvm, const std::vector<gmm::MemoryRegion>& ram,
                                       const VmConfig& config, EventLoop& events) {
  if (config.nr_vcpus == 0 || config.nr_vcpus > 254) {
    return make_error(std::errc::invalid_argument, log::strf("%u vCPUs: tide supports 1 to 254", config.nr_vcpus));
  }
  std::unique_ptr<Vm> vm(new Vm(config, events));
  TIDE_TRY_ASSIGN(vmfd, VmFd::create(kvm));
  vm->vm_ = std::move(vmfd);
  vm->ram_ = ram;
  // Before any memslot logs: the mode decides what turning logging on does.
  vm->dirty_log_support_ = enable_manual_dirty_log(vm->vm_);
  const uint32_t slot_flags = config.dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0;
  uint32_t slot = 0;
  for (const gmm::MemoryRegion& r : vm->ram_) {
    TIDE_TRY(vm->vm_.set_memory_region(slot++, r.base.value(), r.size_bytes, r.host, slot_flags));
  }
  if (config.dirty_log) {
    std::lock_guard lock(vm->dirty_log_mutex_);
    vm->dirty_logging_.store(true);
    TIDE_TRY(vm->drain_dirty_logs_locked());
  }
  TIDE_TRY(vm->vm_.create_irqchip());
  vm->waker_ = std::make_unique<VcpuWaker>(config.nr_vcpus);
  vm->interrupts_ = std::make_unique<KvmInterrupts>(vm->vm_, *vm->waker_);
  TIDE_TRY(vm->interrupts_->init());
  vm->doorbells_ = std::make_unique<KvmDoorbells>(vm->vm_, events);
  TIDE_TRY_ASSIGN(cpuid, kvm.supported_cpuid());
  vm->supported_cpuid_ = std::move(cpuid);
  for (uint32_t i = 0; i < config.nr_vcpus; ++i) {
    TIDE_TRY_ASSIGN(fd, vm->vm_.create_vcpu(i, kvm.vcpu_mmap_size()));
    TIDE_TRY(fd.set_cpuid(cpuid_for_vcpu(vm->supported_cpuid_, i, config.nr_vcpus)));
    VcpuSlot s;
    s.fd = std::make_unique<VcpuFd>(std::move(fd));
    s.counters = std::make_unique<VcpuCounters>();
    vm->vcpus_.push_back(std::move(s));
  }
  vm->host_kind_ = detect_host_kind(*vm->vcpus_[0].fd);
  return vm;
}

Vm::~Vm() {
  request_stop(VmExit{VmExit::Kind::stopped, 0, "VM destroyed"});
  join_all();
}

Status Vm::start() {
  install_kick_handler();
  for (uint32_t i = 0; i < vcpus_.size(); ++i) {
    running_vcpus_.fetch_add(1);
    vcpus_[i].thread = std::thread([this, i] { vcpu_loop(i); });
  }
  return ok();
}

void Vm::pause() {
  {
    std::lock_guard lock(pause_mutex_);
    pause_requested_.store(true);  // a second caller simply waits like the first
  }
  for (VcpuSlot& s : vcpus_) {
    s.fd->run_area()->immediate_exit = 1;
    if (s.thread.joinable()) kick_thread(s.thread.native_handle());
  }
  waker_->wake();  // a vCPU in the wait port comes back out and parks
  std::unique_lock lock(pause_mutex_);
  pause_cv_.wait(lock, [this] {
    return stopping() || parked_ >= running_vcpus_.load();
  });
}

void Vm::resume() {
  {
    std::lock_guard lock(pause_mutex_);
    pause_requested_.store(false);
  }
  pause_cv_.notify_all();
}

void Vm::request_stop(VmExit exit) {
  {
    std::lock_guard lock(exit_mutex_);
    if (exited_) return;
    exited_ = true;
    exit_ = std::move(exit);
  }
  stopping_.store(true, std::memory_order_release);
  for (VcpuSlot& s : vcpus_) {
    // immediate_exit closes the window between the loop's stopping() check and KVM_RUN.
    s.fd->run_area()->immediate_exit = 1;
    if (s.thread.joinable()) kick_thread(s.thread.native_handle());
  }
  if (waker_) waker_->stop();
  exit_cv_.notify_all();
  {
    std::lock_guard lock(pause_mutex_);  // release parked vCPUs and pause() callers
  }
  pause_cv_.notify_all();
}

VmExit Vm::wait() {
  {
    std::unique_lock lock(exit_mutex_);
    exit_cv_.wait(lock, [this] { return exited_; });
  }
  join_all();
  std::lock_guard lock(exit_mutex_);
  return exit_;
}

void Vm::join_all() {
  for (VcpuSlot& s : vcpus_) {
    if (s.thread.joinable() && s.thread.get_id() != std::this_thread::get_id()) s.thread.join();
  }
}

int Vm::current_vcpu() { return tls_vcpu_index; }

std::vector<gmm::RamRange> Vm::ram_ranges() const {
  std::vector<gmm::RamRange> out;
  for (const gmm::MemoryRegion& r : ram_) out.push_back(gmm::RamRange{r.base, r.size_bytes});
  return out;
}

Status Vm::set_dirty_logging(bool on) {
  std::lock_guard lock(dirty_log_mutex_);
  if (on == dirty_logging_.load()) return ok();
  const uint32_t flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0;
  for (uint32_t slot = 0; slot < ram_.size(); ++slot) {
    const gmm::MemoryRegion& r = ram_[slot];
    if (auto st = vm_.set_memory_region(slot, r.base.value(), r.size_bytes, r.host, flags); !st) {
      for (uint32_t back = 0; back < slot; ++back) {  // every slot as it was
        const gmm::MemoryRegion& b = ram_[back];
        (void)vm_.set_memory_region(back, b.base.value(), b.size_bytes, b.host, flags ^ KVM_MEM_LOG_DIRTY_PAGES);
      }
      return st.error();
    }
  }
  dirty_logging_.store(on);
  if (on) TIDE_TRY(drain_dirty_logs_locked());
  return ok();
}

Status Vm::read_and_clear_dirty_log(uint32_t slot, std::span<uint64_t> bitmap) {
  std::lock_guard lock(dirty_log_mutex_);
  return read_and_clear_locked(slot, bitmap);
}

Status Vm::read_and_clear_locked(uint32_t slot, std::span<uint64_t> bitmap) {
  if (slot >= ram_.size()) return make_error(std::errc::invalid_argument, log::strf("no RAM memslot %u", slot));
  if (!dirty_logging_.load()) return make_error(std::errc::operation_not_permitted, "dirty logging is off");
  const uint64_t pages = ram_[slot].size_bytes >> gmm::kPageShift;
  TIDE_TRY(vm_.get_dirty_log(slot, pages, bitmap));
  if (!dirty_log_support_.manual_clear) return ok();
  for (uint64_t first = 0; first < pages; first += kClearChunkPages) {
    const auto n = static_cast<uint32_t>(std::min(kClearChunkPages, pages - first));
    std::span<uint64_t> chunk = bitmap.subspan(first / 64, (n + 63) / 64);
    if (std::all_of(chunk.begin(), chunk.end(), [](uint64_t w) { return w == 0; })) continue;
    TIDE_TRY(vm_.clear_dirty_log(slot, first, n, chunk));
  }
  return ok();
}

Status Vm::drain_dirty_logs_locked() {
  uint64_t most = 0;
  for (const gmm::MemoryRegion& r : ram_) most = std::max(most, r.size_bytes >> gmm::kPageShift);
  std::vector<uint64_t> scratch((most + 63) / 64);
  for (uint32_t slot = 0; slot < ram_.size(); ++slot) TIDE_TRY(read_and_clear_locked(slot, scratch));
  return ok();
}

void Vm::wait_port_sleep(uint32_t timeout_us) {
  int index = tls_vcpu_index;
  if (index < 0 || timeout_us == 0) return;
  vcpus_[static_cast<uint32_t>(index)].counters->waits.fetch_add(1, std::memory_order_relaxed);
  bool woken = waker_->wait(static_cast<uint32_t>(index), std::chrono::microseconds(std::min(timeout_us, kMaxWaitUs)));
  auto& c = *vcpus_[static_cast<uint32_t>(index)].counters;
  (woken ? c.wait_wakeups : c.wait_timeouts).fetch_add(1, std::memory_order_relaxed);
}

void Vm::vcpu_loop(uint32_t index) {
  set_current_thread_name("vcpu" + std::to_string(index));
  // The creating thread may block the kick signal (tide host boots guests from its control
  // thread); a vCPU that cannot be kicked out of KVM_RUN could never pause or stop.
  unblock_kick_signal();
  tls_vcpu_index = static_cast<int>(index);
  VcpuSlot& slot = vcpus_[index];
  while (!stopping()) {
    if (pause_requested_.load(std::memory_order_acquire)) {
      std::unique_lock lock(pause_mutex_);
      ++parked_;
      pause_cv_.notify_all();
      pause_cv_.wait(lock, [this] { return !pause_requested_.load() || stopping(); });
      --parked_;
      if (!stopping()) slot.fd->run_area()->immediate_exit = 0;
      continue;
    }
    auto ran = slot.fd->run();
    if (!ran) {
      request_stop(VmExit{VmExit::Kind::error, 1, ran.error().message()});
      break;
    }
    if (!*ran) continue;  // interrupted: re-check stopping()
    kvm_run* run = slot.fd->run_area();
    switch (run->exit_reason) {
      case KVM_EXIT_IO:
        if (auto st = handle_io(slot); !st) request_stop(VmExit{VmExit::Kind::error, 1, st.error().message()});
        break;
      case KVM_EXIT_MMIO:
        handle_mmio(slot);
        break;
      case KVM_EXIT_HLT:
      case KVM_EXIT_IRQ_WINDOW_OPEN:
      case KVM_EXIT_INTR:
        break;
      case KVM_EXIT_SHUTDOWN: {
        auto regs = slot.fd->get_regs();
        request_stop(VmExit{VmExit::Kind::reset, 0,
                            log::strf("vCPU %u triple-faulted at rip 0x%llx (guest reset)", index,
                                      regs ? static_cast<unsigned long long>(regs->rip) : 0ULL)});
        break;
      }
      case KVM_EXIT_SYSTEM_EVENT:
        if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
          request_stop(VmExit{VmExit::Kind::shutdown, 0, "the guest powered off"});
        } else if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
          request_stop(VmExit{VmExit::Kind::reset, 0, "the guest reset"});
        } else {
          request_stop(VmExit{VmExit::Kind::error, 1, log::strf("guest system event %u", run->system_event.type)});
        }
        break;
      case KVM_EXIT_INTERNAL_ERROR: {
        auto regs = slot.fd->get_regs();
        request_stop(VmExit{VmExit::Kind::error, 1,
                            log::strf("KVM internal error %u on vCPU %u at rip 0x%llx (see dmesg)",
                                      run->internal.suberror, index,
                                      regs ? static_cast<unsigned long long>(regs->rip) : 0ULL)});
        break;
      }
      case KVM_EXIT_FAIL_ENTRY:
        request_stop(VmExit{VmExit::Kind::error, 1,
                            log::strf("KVM could not enter vCPU %u (reason 0x%llx)", index,
                                      static_cast<unsigned long long>(run->fail_entry.hardware_entry_failure_reason))});
        break;
      default:
        request_stop(VmExit{VmExit::Kind::error, 1, log::strf("unexpected KVM exit %u on vCPU %u", run->exit_reason, index)});
        break;
    }
  }
  {
    std::lock_guard lock(pause_mutex_);
    running_vcpus_.fetch_sub(1);
  }
  pause_cv_.notify_all();
}

Status Vm::handle_io(VcpuSlot& slot) {
  kvm_run* run = slot.fd->run_area();
  slot.counters->pio_exits.fetch_add(1, std::memory_order_relaxed);
  std::span<uint8_t> data = slot.fd->io_data();
  const uint16_t port = run->io.port;
  const size_t size = run->io.size;
  if (run->io.direction == KVM_EXIT_IO_OUT && size == 4 && run->io.count == 1 && host_kind_ == HostKind::pvm) {
    // PVM quirk (PVM.md): a 32-bit `out dx, eax` may arrive with data 0; RAX is right.
    TIDE_TRY_ASSIGN(regs, slot.fd->get_regs());
    auto eax = static_cast<uint32_t>(regs.rax);
    std::memcpy(data.data(), &eax, 4);
  }
  for (uint32_t i = 0; i < run->io.count; ++i) {
    std::span<uint8_t> d = data.subspan(i * size, size);
    bool handled = run->io.direction == KVM_EXIT_IO_OUT ? pio_.write(port, d) : pio_.read(port, d);
    if (!handled) {
      std::lock_guard lock(unhandled_mutex_);
      if (unhandled_[port]++ == 0) log::debug("%s: unclaimed port 0x%x (%zu bytes)", config_.name.c_str(), port, size);
    }
  }
  return ok();
}

void Vm::handle_mmio(VcpuSlot& slot) {
  kvm_run* run = slot.fd->run_area();
  slot.counters->mmio_exits.fetch_add(1, std::memory_order_relaxed);
  const uint64_t addr = run->mmio.phys_addr;
  const uint32_t len = std::min<uint32_t>(run->mmio.len, 8);
  std::span<uint8_t> d(run->mmio.data, len);
  bool handled = run->mmio.is_write ? mmio_.write(addr, d) : mmio_.read(addr, d);
  if (!handled) {
    std::lock_guard lock(unhandled_mutex_);
    if (unhandled_[addr | (uint64_t{1} << 63)]++ == 0) {
      log::warn("%s: unclaimed MMIO %s at 0x%llx (%u bytes)", config_.name.c_str(),
                run->mmio.is_write ? "write" : "read", static_cast<unsigned long long>(addr), len);
    }
  }
}

}  // namespace tide::vmm
