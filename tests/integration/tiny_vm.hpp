// TinyVm: a Vm with a tiny 64-bit test guest (tests/integration/tiny_guests.S) entered
// directly in long mode, plus helpers for test devices. Skips only without /dev/kvm.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <span>

#include "devices/bus.hpp"
#include "guestmm/host/linux_host_memory.hpp"
#include "guestmm/memory_manager.hpp"
#include "vmm/machine/layout.hpp"
#include "vmm/boot/cpu_setup.hpp"
#include "vmm/kvm/system.hpp"
#include "vmm/machine/event_loop.hpp"
#include "vmm/machine/vm.hpp"

extern "C" const unsigned char tiny_io_start[], tiny_io_end[];
extern "C" const unsigned char tiny_exit42_start[], tiny_exit42_end[];
extern "C" const unsigned char tiny_wait_start[], tiny_wait_end[];
extern "C" const unsigned char tiny_smp_start[], tiny_smp_end[];
extern "C" const unsigned char tiny_loop_start[], tiny_loop_end[];
extern "C" const unsigned char tiny_touch_start[], tiny_touch_end[];
extern "C" const unsigned char tiny_race_start[], tiny_race_end[];
extern "C" const unsigned char tiny_count_start[], tiny_count_end[];

namespace tide::test {

inline bool have_kvm() { return ::access("/dev/kvm", F_OK) == 0; }

// Skips the test only where the host has no /dev/kvm at all.
#define TIDE_REQUIRE_KVM()                                         \
  do {                                                             \
    if (!::tide::test::have_kvm()) GTEST_SKIP() << "no /dev/kvm"; \
  } while (0)

// A bus device made of two lambdas.
class FnDevice final : public dev::BusDevice {
 public:
  using ReadFn = std::function<void(uint64_t offset, std::span<uint8_t>)>;
  using WriteFn = std::function<void(uint64_t offset, std::span<const uint8_t>)>;
  FnDevice(ReadFn r, WriteFn w) : r_(std::move(r)), w_(std::move(w)) {}
  void read(uint64_t, uint64_t offset, std::span<uint8_t> data) override {
    if (r_) r_(offset, data);
  }
  void write(uint64_t, uint64_t offset, std::span<const uint8_t> data) override {
    if (w_) w_(offset, data);
  }

 private:
  ReadFn r_;
  WriteFn w_;
};

inline uint64_t le_value(std::span<const uint8_t> d) {
  uint64_t v = 0;
  for (size_t i = d.size(); i-- > 0;) v = (v << 8) | d[i];
  return v;
}

class TinyVm {
 public:
  static constexpr uint64_t kCodeAt = 0x100000;

  // Guest RAM comes from tide's allocator over a pool of `pool` bytes (default: memory).
  // `dirty_log`: the RAM memslots are created logging writes (VmConfig::dirty_log).
  explicit TinyVm(uint32_t vcpus = 1, uint64_t memory = 64ull << 20, uint64_t pool = 0, uint64_t hot_frames = 0,
                  bool async_scrub = false, bool dirty_log = false) {
    auto kvm = vmm::KvmSystem::open();
    EXPECT_TRUE(kvm) << kvm.error().message();
    kvm_ = std::make_unique<vmm::KvmSystem>(std::move(*kvm));
    gmm::MemoryManagerOptions mo;
    mo.pool_bytes = pool ? pool : memory;
    mo.hot_frames = hot_frames;
    mo.async_scrub = async_scrub;
    mo.on_fault_error = [this](gmm::GuestMm&, const Error& e) {
      fault_errors_.fetch_add(1);
      if (vm_) vm_->request_stop(vmm::VmExit{vmm::VmExit::Kind::error, 1, e.message()});
    };
    auto mm = gmm::MemoryManager::create(host_, std::move(mo));
    EXPECT_TRUE(mm) << mm.error().message();
    mm_ = std::move(*mm);
    auto guest = mm_->add_guest("tiny", vmm::layout::ram_ranges(memory));
    EXPECT_TRUE(guest) << guest.error().message();
    guest_ = *guest;
    events_.start("test-events");
    vmm::VmConfig cfg;
    cfg.name = "tiny";
    cfg.memory_bytes = memory;
    cfg.nr_vcpus = vcpus;
    cfg.dirty_log = dirty_log;
    auto vm = vmm::Vm::create(*kvm_, guest_->regions(), cfg, events_);
    EXPECT_TRUE(vm) << vm.error().message();
    vm_ = std::move(*vm);
    // The debug-exit port ends the VM with the written value.
    add_pio(0x501, 2, nullptr, [this](uint64_t, std::span<const uint8_t> d) {
      vm_->request_stop(vmm::VmExit{vmm::VmExit::Kind::debug_exit, static_cast<int>(d[0]), ""});
    });
  }
  ~TinyVm() {
    vm_.reset();
    events_.stop();
    mm_->remove_guest(guest_);
  }

  vmm::Vm& vm() { return *vm_; }
  gmm::MemoryManager& mm() { return *mm_; }
  gmm::GuestMm& guest() { return *guest_; }
  uint64_t fault_errors() const { return fault_errors_.load(); }

  void add_pio(uint64_t port, uint64_t len, FnDevice::ReadFn r, FnDevice::WriteFn w) {
    ASSERT_TRUE(vm_->pio().insert(port, len, std::make_shared<FnDevice>(std::move(r), std::move(w))));
  }
  void add_mmio(uint64_t addr, uint64_t len, FnDevice::ReadFn r, FnDevice::WriteFn w) {
    ASSERT_TRUE(vm_->mmio().insert(addr, len, std::make_shared<FnDevice>(std::move(r), std::move(w))));
  }

  // Copies guest code to kCodeAt and points every vCPU at it in long mode.
  void load(const unsigned char* start, const unsigned char* end) {
    auto mem = vm_->memory();
    auto code = std::as_bytes(std::span(start, static_cast<size_t>(end - start)));
    ASSERT_TRUE(mem.write(gmm::Gpa(kCodeAt), code));
    ASSERT_TRUE(vmm::write_identity_page_tables(mem, 0x9000));
    for (uint32_t i = 0; i < vm_->config().nr_vcpus; ++i) {
      vmm::LongModeEntry e;
      e.rip = kCodeAt;
      e.rsp = 0x80000 - i * 0x1000;
      e.rdi = i;
      e.vif_page = 0x40000 + i * 0x1000;
      auto st = vmm::setup_long_mode_entry(vm_->vcpu(i), mem, e, vm_->host_kind());
      ASSERT_TRUE(st) << st.error().message();
    }
  }

  vmm::VmExit run() {
    EXPECT_TRUE(vm_->start());
    return vm_->wait();
  }

 private:
  std::unique_ptr<vmm::KvmSystem> kvm_;
  gmm::host::LinuxHostMemory host_;
  std::unique_ptr<gmm::MemoryManager> mm_;
  gmm::GuestMm* guest_ = nullptr;
  std::atomic<uint64_t> fault_errors_{0};
  vmm::EventLoop events_;
  std::unique_ptr<vmm::Vm> vm_;
};

}  // namespace tide::test
