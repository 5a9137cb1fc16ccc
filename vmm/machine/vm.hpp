// Vm: one guest on KVM — its VM fd, memslots over the guest's RAM (owned by guestmm, which
// must outlive the Vm), in-kernel irqchip, port and MMIO buses, interrupt routes,
// doorbells and vCPU threads ("vcpu0".."vcpuN-1").
// Dirty logging (write evidence for page aging) can be turned on and off on the RAM memslots
// while the guest runs; the log is read per memslot (memslot i = ram_ranges()[i]).
// Life cycle: create() -> set up devices and boot state -> start() -> wait(). Any thread
// may call request_stop(); the first reason wins; every vCPU thread is kicked out of
// KVM_RUN (immediate_exit + signal) and out of the wait port, then joined by wait() or the
// destructor, on every exit path.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "devices/bus.hpp"
#include "guestmm/guest_memory.hpp"
#include "guestmm/guest_ram.hpp"
#include "vmm/kvm/host_kind.hpp"
#include "vmm/kvm/system.hpp"
#include "vmm/kvm/vcpu_fd.hpp"
#include "vmm/kvm/vm_fd.hpp"
#include "vmm/machine/event_loop.hpp"
#include "vmm/machine/kvm_doorbells.hpp"
#include "vmm/machine/kvm_interrupts.hpp"
#include "vmm/machine/vcpu_waker.hpp"
#include "vmm/machine/vm_exit.hpp"

namespace tide::vmm {

struct VmConfig {
  std::string name = "guest";
  uint64_t memory_bytes = 0;
  uint32_t nr_vcpus = 1;
  // The RAM memslots are created with KVM_MEM_LOG_DIRTY_PAGES (set_dirty_logging() can
  // still turn it on or off later).
  bool dirty_log = false;
};

// How this host's KVM lets tide read and re-arm a memslot's dirty log (probed by create()).
struct DirtyLogSupport {
  // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled: KVM_GET_DIRTY_LOG only reads, and
  // KVM_CLEAR_DIRTY_LOG write-protects again just the pages that were dirty, in chunks.
  // Otherwise KVM_GET_DIRTY_LOG reads and re-protects in one call.
  bool manual_clear = false;
  // KVM_DIRTY_LOG_INITIALLY_SET: turning logging on sets every bit and protects nothing;
  // the protection is then done by clearing (set_dirty_logging drains it in chunks)
  // instead of by one sweep inside the memslot update.
  bool initially_set = false;
};

struct VcpuCounters {
  std::atomic<uint64_t> pio_exits{0};
  std::atomic<uint64_t> mmio_exits{0};
  std::atomic<uint64_t> waits{0};          // wait-port sleeps entered
  std::atomic<uint64_t> wait_wakeups{0};   // ... ended by work for the guest (or stop)
  std::atomic<uint64_t> wait_timeouts{0};  // ... ended by their timeout
};

class Vm {
 public:
  // Creates the VM with one memslot per RAM region (regions[i].host must stay mapped for
  // the Vm's lifetime).
  [[nodiscard]] static Result<std::unique_ptr<Vm>> create(const KvmSystem& kvm,
                                                          const std::vector<gmm::MemoryRegion>& ram,
                                                          const VmConfig& config, EventLoop& events);
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;
  ~Vm();

  [[nodiscard]] const VmConfig& config() const { return config_; }
  [[nodiscard]] HostKind host_kind() const { return host_kind_; }
  [[nodiscard]] gmm::GuestMemory memory() const { return gmm::GuestMemory(ram_); }
  // The RAM ranges (GPA) of the guest, in order.
  [[nodiscard]] std::vector<gmm::RamRange> ram_ranges() const;
  [[nodiscard]] dev::Bus& pio() { return pio_; }
  [[nodiscard]] dev::Bus& mmio() { return mmio_; }
  [[nodiscard]] KvmInterrupts& interrupts() { return *interrupts_; }
  [[nodiscard]] KvmDoorbells& doorbells() { return *doorbells_; }
  [[nodiscard]] VcpuWaker& waker() { return *waker_; }
  [[nodiscard]] EventLoop& events() { return events_; }
  [[nodiscard]] const std::vector<kvm_cpuid_entry2>& supported_cpuid() const { return supported_cpuid_; }
  // For set-up before start(), and for statistics.
  [[nodiscard]] VcpuFd& vcpu(uint32_t index) { return *vcpus_.at(index).fd; }
  [[nodiscard]] const VcpuCounters& vcpu_counters(uint32_t index) const { return *vcpus_.at(index).counters; }

  // ---- Dirty logging of the RAM memslots ----
  [[nodiscard]] DirtyLogSupport dirty_log_support() const { return dirty_log_support_; }
  [[nodiscard]] bool dirty_logging() const { return dirty_logging_.load(std::memory_order_acquire); }
  // Turns KVM_MEM_LOG_DIRTY_PAGES on or off on every RAM memslot; the vCPUs may run. Once
  // on, the log is empty and every page is write-protected: the guest's next write to a page
  // costs one exit and sets its bit. Errors: KVM refused (memslots left as they were).
  // Thread: any (serialized with the reads).
  [[nodiscard]] Status set_dirty_logging(bool on);
  // Copies the log of RAM memslot `slot` (bit i = page i of ram_ranges()[slot], KVM's
  // format) into `bitmap` and re-arms those pages, so the next read shows only later writes.
  // `bitmap` holds at least ceil(pages / 64) words. Errors: no such slot, logging off, KVM
  // failures. Thread: any (serialized with the other dirty-log calls).
  [[nodiscard]] Status read_and_clear_dirty_log(uint32_t slot, std::span<uint64_t> bitmap);

  // Spawns the vCPU threads. Thread: the owner, once.
  [[nodiscard]] Status start();
  // Ends the VM with `exit` unless it already ended. Thread: any, including vCPU threads.
  void request_stop(VmExit exit);
  // Holds every vCPU outside KVM_RUN; returns once all of them are parked (or the VM is
  // stopping). Idempotent. Thread: any but a vCPU thread.
  void pause();
  // Lets paused vCPUs run again. Thread: any.
  void resume();
  [[nodiscard]] bool paused() const { return pause_requested_.load(std::memory_order_acquire); }
  // Blocks until the VM ended and every vCPU thread is joined.
  VmExit wait();
  [[nodiscard]] bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  // The wait port's sleep, for the vCPU that is dispatching the access. Thread: vCPU.
  void wait_port_sleep(uint32_t timeout_us);
  // The index of the vCPU whose thread calls this, or -1.
  [[nodiscard]] static int current_vcpu();

 private:
  struct VcpuSlot {
    std::unique_ptr<VcpuFd> fd;
    std::unique_ptr<VcpuCounters> counters;
    std::thread thread;
  };
  Vm(VmConfig config, EventLoop& events) : config_(std::move(config)), events_(events) {}
  void vcpu_loop(uint32_t index);
  [[nodiscard]] Status handle_io(VcpuSlot& slot);
  void handle_mmio(VcpuSlot& slot);
  void join_all();
  // Reads and clears every slot's log into scratch memory (after logging is turned on).
  [[nodiscard]] Status drain_dirty_logs_locked();
  [[nodiscard]] Status read_and_clear_locked(uint32_t slot, std::span<uint64_t> bitmap);

  VmConfig config_;
  EventLoop& events_;
  VmFd vm_;
  std::vector<gmm::MemoryRegion> ram_;
  HostKind host_kind_ = HostKind::hardware;
  std::vector<kvm_cpuid_entry2> supported_cpuid_;
  DirtyLogSupport dirty_log_support_;
  std::mutex dirty_log_mutex_;  // memslot flag changes and log reads
  std::atomic<bool> dirty_logging_{false};
  std::unique_ptr<VcpuWaker> waker_;
  std::unique_ptr<KvmInterrupts> interrupts_;
  std::unique_ptr<KvmDoorbells> doorbells_;
  // After the interrupt and doorbell owners: the buses hold the devices, and devices
  // release their MSI routes and doorbells when destroyed.
  dev::Bus pio_;
  dev::Bus mmio_;
  std::vector<VcpuSlot> vcpus_;

  std::atomic<bool> stopping_{false};
  std::mutex exit_mutex_;
  std::condition_variable exit_cv_;
  bool exited_ = false;
  VmExit exit_;
  std::atomic<uint32_t> running_vcpus_{0};
  std::atomic<bool> pause_requested_{false};
  std::mutex pause_mutex_;
  std::condition_variable pause_cv_;
  uint32_t parked_ = 0;
  std::mutex unhandled_mutex_;
  std::map<uint64_t, uint64_t> unhandled_;  // address -> count (logged on first)
};

}  // namespace tide::vmm
