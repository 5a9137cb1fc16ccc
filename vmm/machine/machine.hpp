// Machine: a bootable tide guest — a Vm plus the platform the guest sees (docs/machine.md):
// COM1 UART, debug exit, wait port, PCI root with config mechanism 1 and ECAM, and the
// virtio devices (virtio-rng). It boots a PVH kernel and owns teardown order: vCPUs are
// joined first, then the PCI root (which frees the transports, their MSI routes and
// doorbells), then the Vm with its buses, then the guest's memory.
// Memory control: the guest's memcg leaf is made under MachineMemcg::group with its limits
// before any device exists, and the machine gives the memory manager its hooks (the
// balloon for cooperative reclaim, a stop for the OOM policy `stop`); the destructor takes
// them back before anything they reach goes away.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <memory>
#include <optional>
#include <span>

#include "balloon/balloon_device.hpp"
#include "devices/pci/pci_root.hpp"
#include "devices/serial/uart_8250.hpp"
#include "devices/virtio/rng.hpp"
#include "devices/virtio/virtio_pci.hpp"
#include "guestmm/guest_ram.hpp"
#include "guestmm/memory_manager.hpp"
#include "guestmm/pool.hpp"
#include "vmm/boot/pvh_boot.hpp"
#include "vmm/kvm/system.hpp"
#include "vmm/machine/balloon_controller.hpp"
#include "vmm/machine/dirty_log_reader.hpp"
#include "vmm/machine/event_loop.hpp"
#include "vmm/machine/guest_balloon_backend.hpp"
#include "vmm/machine/machine_memcg.hpp"
#include "vmm/machine/vm.hpp"

namespace tide::vmm {

// Where a machine's RAM comes from.
struct MachineMemory {
  gmm::MemoryManager* manager = nullptr;  // tide's page allocator (the normal case)
  const gmm::Pool* flat_pool = nullptr;   // debug baseline: a flat memfd view the kernel faults
};

// The virtio-balloon device of a machine.
struct MachineBalloon {
  balloon::BalloonFeatures features;
  uint64_t initial_target_bytes = 0;  // balloon size asked for at boot (RAM - <currentMemory>)
  BalloonControllerOptions control;   // stats period, auto mode
};

struct MachineConfig {
  VmConfig vm;
  KernelBoot boot;
  bool rng = true;
  // The virtio-balloon device (needs tide's allocator); nullopt: none.
  std::optional<MachineBalloon> balloon;
  // The guest's memory cgroup and reclaim settings (tide's allocator only).
  MachineMemcg memcg;
  bool test_hooks = false;  // the test-hook port (devices/platform/test_hooks.hpp)
  // Write evidence for page aging from KVM's dirty log (tide's allocator only). Default:
  // while the guest has a memory limit.
  DirtyLogAgingOptions dirty_log_aging;
  // Receives the guest's serial output (called on vCPU threads, with the UART locked:
  // it must not call back into the machine).
  std::function<void(std::span<const uint8_t>)> console;
};

class Machine {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Machine>> create(const KvmSystem& kvm, MachineMemory memory,
                                                               MachineConfig config, EventLoop& events);
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;
  ~Machine();

  // Loads the kernel and starts the vCPUs. Thread: the owner, once.
  [[nodiscard]] Status start();
  // Blocks until the guest ended (see VmExit).
  VmExit wait() { return vm_->wait(); }
  // Ends the guest. Thread: any.
  void stop(VmExit exit) { vm_->request_stop(std::move(exit)); }
  // Bytes typed at the guest's console. Thread: any.
  void console_input(std::span<const uint8_t> bytes) { uart_->enqueue_input(bytes); }

  [[nodiscard]] Vm& vm() { return *vm_; }
  // The guest's memory under tide's allocator (null with the flat debug backend).
  [[nodiscard]] gmm::GuestMm* guest_memory() { return guest_mm_; }
  [[nodiscard]] const MachineConfig& config() const { return config_; }
  [[nodiscard]] const BootReport& boot_report() const { return boot_report_; }
  [[nodiscard]] const dev::VirtioRng* rng() const { return rng_.get(); }
  [[nodiscard]] const dev::VirtioPciDevice* rng_transport() const { return rng_transport_.get(); }
  // The balloon device and its controller (null without one). Thread: any.
  [[nodiscard]] balloon::BalloonDevice* balloon() { return balloon_.get(); }
  [[nodiscard]] BalloonController* balloon_controller() { return balloon_controller_.get(); }
  // The balloon's virtqueue faults (malformed descriptor chains...), by kind, summed over
  // its queues; empty without a balloon. Thread: any.
  [[nodiscard]] std::map<std::string, uint64_t> balloon_queue_faults() const;
  // The dirty-log reader (its stats() for reports); null with the flat debug backend or
  // when turned off. Thread: any.
  [[nodiscard]] const DirtyLogReader* dirty_log_reader() const { return dirty_log_.get(); }

 private:
  Machine(MachineConfig config) : config_(std::move(config)) {}
  // The guest's memory under `manager`: its memcg group, leaf and limits.
  [[nodiscard]] Status add_guest_memory(gmm::MemoryManager& manager, const std::vector<gmm::RamRange>& ranges);
  // The memory manager's hooks into this machine (balloon reclaim, OOM stop).
  void set_memory_hooks();
  [[nodiscard]] Status add_platform_devices();
  [[nodiscard]] Status add_pci_devices();

  MachineConfig config_;
  gmm::MemoryManager* manager_ = nullptr;
  gmm::GuestMm* guest_mm_ = nullptr;
  std::optional<gmm::GuestRam> flat_;
  std::unique_ptr<Vm> vm_;
  gmm::GuestMemory memory_;  // outlives the transports that hold a reference to it
  std::shared_ptr<dev::Uart8250> uart_;
  std::shared_ptr<dev::PciRoot> pci_;
  std::shared_ptr<dev::VirtioRng> rng_;
  std::shared_ptr<dev::VirtioPciDevice> rng_transport_;
  std::unique_ptr<GuestBalloonBackend> balloon_backend_;  // outlives the device
  std::shared_ptr<balloon::BalloonDevice> balloon_;
  std::shared_ptr<dev::VirtioPciDevice> balloon_transport_;
  std::unique_ptr<BalloonController> balloon_controller_;
  std::unique_ptr<DirtyLogReader> dirty_log_;  // reads the Vm's memslots, marks guest_mm_
  BootReport boot_report_;
};

}  // namespace tide::vmm
