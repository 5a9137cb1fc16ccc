// Integration: the Vm on real KVM with tiny guests — port and MMIO dispatch (including
// PVM's 32-bit `out` quirk), debug exit, the wait port, several vCPUs on named threads,
// native execution, and clean shutdown.
#include <dirent.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tiny_vm.hpp"

namespace tide::test {
namespace {

TEST(VmIntegration, PortAndMmioDispatch) {
  TIDE_REQUIRE_KVM();
  TinyVm t;
  std::mutex m;
  std::vector<std::pair<uint64_t, uint64_t>> writes;  // (port, value)
  uint32_t mmio_value = 0;
  t.add_pio(0x600, 8, [](uint64_t, std::span<uint8_t> d) { d[0] = 0x5a; },
            [&](uint64_t off, std::span<const uint8_t> d) {
              std::lock_guard l(m);
              writes.emplace_back(0x600 + off, le_value(d));
            });
  t.add_mmio(0xd0000000, 0x1000,
             [&](uint64_t, std::span<uint8_t> d) { std::memcpy(d.data(), &mmio_value, std::min<size_t>(d.size(), 4)); },
             [&](uint64_t, std::span<const uint8_t> d) { mmio_value = static_cast<uint32_t>(le_value(d)); });
  t.load(tiny_io_start, tiny_io_end);
  vmm::VmExit exit = t.run();
  ASSERT_EQ(exit.kind, vmm::VmExit::Kind::debug_exit) << exit.message;
  std::vector<std::pair<uint64_t, uint64_t>> want = {{0x600, 0xab}, {0x602, 0xbeef}, {0x604, 0xcafef00d}};
  EXPECT_EQ(writes, want);  // the 32-bit value survives PVM's quirk
  EXPECT_EQ(mmio_value, 0x12345678u);
  EXPECT_EQ(exit.status, (0x5a + 0x78) & 0xff);
  EXPECT_GE(t.vm().vcpu_counters(0).mmio_exits.load(), 2u);
}

TEST(VmIntegration, DebugExitStatusPropagates) {
  TIDE_REQUIRE_KVM();
  TinyVm t;
  t.load(tiny_exit42_start, tiny_exit42_end);
  vmm::VmExit exit = t.run();
  EXPECT_EQ(exit.kind, vmm::VmExit::Kind::debug_exit);
  EXPECT_EQ(exit.status, 42);
}

class WaitPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TIDE_REQUIRE_KVM();
    t_ = std::make_unique<TinyVm>();
    t_->add_pio(0x504, 4, nullptr, [this](uint64_t, std::span<const uint8_t> d) {
      t_->vm().wait_port_sleep(static_cast<uint32_t>(le_value(d)));
    });
    t_->add_pio(0x600, 1, nullptr, [this](uint64_t, std::span<const uint8_t>) { reported_.store(true); });
    t_->load(tiny_wait_start, tiny_wait_end);
  }
  void set_timeout_us(uint32_t us) { ASSERT_TRUE(t_->vm().memory().write_obj(gmm::Gpa(0x3000), us)); }
  std::unique_ptr<TinyVm> t_;
  std::atomic<bool> reported_{false};
};

TEST_F(WaitPortTest, WakeEndsTheSleep) {
  set_timeout_us(0xffffffff);  // capped at 10 s by the VMM
  ASSERT_TRUE(t_->vm().start());
  // Wake once the vCPU is in the wait port; it must then run on to the report.
  while (t_->vm().vcpu_counters(0).waits.load() == 0) std::this_thread::yield();
  EXPECT_FALSE(reported_.load());
  t_->vm().interrupts().wake_vcpus();
  vmm::VmExit exit = t_->vm().wait();
  EXPECT_EQ(exit.kind, vmm::VmExit::Kind::debug_exit);
  EXPECT_TRUE(reported_.load());
  EXPECT_EQ(t_->vm().vcpu_counters(0).wait_wakeups.load(), 1u);
  EXPECT_EQ(t_->vm().vcpu_counters(0).wait_timeouts.load(), 0u);
}

TEST_F(WaitPortTest, TimeoutEndsTheSleep) {
  set_timeout_us(2000);
  vmm::VmExit exit = t_->run();
  EXPECT_EQ(exit.kind, vmm::VmExit::Kind::debug_exit);
  EXPECT_TRUE(reported_.load());
  EXPECT_EQ(t_->vm().vcpu_counters(0).wait_timeouts.load(), 1u);
}

TEST_F(WaitPortTest, StopWakesASleepingVcpu) {
  set_timeout_us(0xffffffff);
  ASSERT_TRUE(t_->vm().start());
  while (t_->vm().vcpu_counters(0).waits.load() == 0) std::this_thread::yield();
  t_->vm().request_stop(vmm::VmExit{vmm::VmExit::Kind::stopped, 0, "test"});
  vmm::VmExit exit = t_->vm().wait();  // returns only once every vCPU thread is joined
  EXPECT_EQ(exit.kind, vmm::VmExit::Kind::stopped);
}

std::set<std::string> thread_names() {
  std::set<std::string> names;
  DIR* d = opendir("/proc/self/task");
  while (dirent* e = d ? readdir(d) : nullptr) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string n;
    std::getline(f, n);
    names.insert(n);
  }
  if (d) closedir(d);
  return names;
}

TEST(VmIntegration, FourVcpusRunOnNamedThreads) {
  TIDE_REQUIRE_KVM();
  TinyVm t(4);
  std::mutex m;
  std::set<uint64_t> seen;
  std::set<int> reporters;
  t.add_pio(0x600, 1, nullptr, [&](uint64_t, std::span<const uint8_t> d) {
    std::lock_guard l(m);
    seen.insert(d[0]);
    reporters.insert(vmm::Vm::current_vcpu());
  });
  t.load(tiny_smp_start, tiny_smp_end);
  ASSERT_TRUE(t.vm().start());
  for (;;) {
    {
      std::lock_guard l(m);
      if (seen.size() == 4) break;
    }
    std::this_thread::yield();
  }
  auto names = thread_names();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(names.count("vcpu" + std::to_string(i))) << "vcpu" << i;
  t.vm().request_stop(vmm::VmExit{vmm::VmExit::Kind::stopped, 0, "test"});
  EXPECT_EQ(t.vm().wait().kind, vmm::VmExit::Kind::stopped);
  EXPECT_EQ(seen, (std::set<uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(reporters, (std::set<int>{0, 1, 2, 3}));  // each index came from its own vCPU
  names = thread_names();
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(names.count("vcpu" + std::to_string(i)));
}

TEST(VmIntegration, GuestRunsNatively) {
  TIDE_REQUIRE_KVM();
  TinyVm t;
  t.load(tiny_loop_start, tiny_loop_end);
  vmm::VmExit exit = t.run();
  ASSERT_EQ(exit.kind, vmm::VmExit::Kind::debug_exit) << exit.message;
  EXPECT_EQ(exit.status, 7);
  // 200 million loop iterations are ~600 million instructions: emulated (~1.6 M/s on PVM)
  // that would be hundreds of emulations per exit; natively KVM emulates next to nothing.
  auto stats = t.vm().vcpu(0).stats();
  ASSERT_TRUE(stats);
  ASSERT_TRUE(stats->count("insn_emulation"));
  EXPECT_LT((*stats)["insn_emulation"], 10'000u) << "the guest ran emulated";
}

TEST(VmIntegration, PauseHoldsEveryVcpuAndResumeLetsThemRun) {
  TIDE_REQUIRE_KVM();
  TinyVm t(2);
  t.load(tiny_count_start, tiny_count_end);
  auto mem = t.vm().memory();
  ASSERT_TRUE(t.vm().start());
  auto count = [&] { return *mem.read_obj<uint64_t>(gmm::Gpa(0x3000)); };
  while (count() < 1000) std::this_thread::yield();
  t.vm().pause();
  EXPECT_TRUE(t.vm().paused());
  const uint64_t frozen = count();
  for (int i = 0; i < 50; ++i) std::this_thread::yield();
  EXPECT_EQ(count(), frozen);  // no vCPU runs guest code while paused
  t.vm().pause();              // idempotent
  EXPECT_EQ(count(), frozen);
  t.vm().resume();
  while (count() == frozen) std::this_thread::yield();  // running again
  t.vm().pause();
  t.vm().request_stop(vmm::VmExit{vmm::VmExit::Kind::stopped, 0, "test"});  // stop while paused
  EXPECT_EQ(t.vm().wait().kind, vmm::VmExit::Kind::stopped);
}

TEST(VmIntegration, DestroyingARunningVmJoinsItsThreads) {
  TIDE_REQUIRE_KVM();
  auto t = std::make_unique<TinyVm>(2);
  t->load(tiny_smp_start, tiny_smp_end);
  ASSERT_TRUE(t->vm().start());
  t.reset();  // must not hang: every vCPU is kicked out of KVM_RUN and joined
  for (const auto& n : thread_names()) EXPECT_NE(n.rfind("vcpu", 0), 0u) << n;
}

}  // namespace
}  // namespace tide::test
