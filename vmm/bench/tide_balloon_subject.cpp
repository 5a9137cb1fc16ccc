#include "vmm/bench/tide_balloon_subject.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "guestmm/base/log.hpp"
#include "guestmm/host/linux_host_memory.hpp"
#include "guestmm/memory_manager.hpp"
#include "vmm/bench/guest_console.hpp"
#include "vmm/kvm/host_kind.hpp"
#include "vmm/kvm/system.hpp"
#include "vmm/machine/event_loop.hpp"
#include "vmm/machine/machine.hpp"

namespace tide::vmm::bench {
namespace {

class TideBalloonSubject final : public BalloonSubject {
 public:
  ~TideBalloonSubject() override { stop(); }

  [[nodiscard]] std::string name() const override { return "tide"; }
  [[nodiscard]] std::string accel() const override { return accel_; }

  Status start(const BalloonSubjectConfig& config) override {
    TIDE_TRY_ASSIGN(kvm, KvmSystem::open());
    TIDE_TRY(kvm.check_required());
    kvm_.emplace(std::move(kvm));
    gmm::MemoryManagerOptions mo;
    mo.pool_bytes = config.memory_bytes;
    mo.async_scrub = true;
    mo.on_fault_error = [this](gmm::GuestMm&, const Error& e) {
      if (Machine* m = machine_ptr_.load()) m->stop(VmExit{VmExit::Kind::error, 1, e.message()});
    };
    TIDE_TRY_ASSIGN(mm, gmm::MemoryManager::create(host_, std::move(mo)));
    manager_ = std::move(mm);

    MachineConfig mc;
    mc.vm.name = "balloon-bench";
    mc.vm.memory_bytes = config.memory_bytes;
    mc.vm.nr_vcpus = 1;
    mc.boot.kernel_path = config.tideguest;
    mc.boot.cmdline = "tide.run=\"" + config.guest_script + "\"" + (config.guest_params.empty() ? "" : " " + config.guest_params);
    mc.rng = false;
    MachineBalloon b;
    b.features = balloon::BalloonFeatures{.must_tell_host = true, .stats = true, .deflate_on_oom = false, .reporting = true};
    b.control.stats_period_s = config.stats_period_s;
    mc.balloon = b;
    mc.console = [this](std::span<const uint8_t> bytes) {
      std::lock_guard l(console_mutex_);
      console_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      if (console_.size() > (1u << 20)) console_.erase(0, console_.size() - (1u << 19));
    };
    events_.start("tide-bench-ev");
    MachineMemory memory;
    memory.manager = manager_.get();
    TIDE_TRY_ASSIGN(machine, Machine::create(*kvm_, memory, mc, events_));
    machine_ = std::move(machine);
    machine_ptr_.store(machine_.get());
    TIDE_TRY(machine_->start());
    accel_ = machine_->vm().host_kind() == HostKind::pvm ? "kvm/pvm" : "kvm";
    // Up when the guest echoed its last command (serve) and serve reported the balloon it
    // starts with: the driver is active and the workload before it is done.
    const std::string last = last_command(config.guest_script);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (;;) {
      {
        std::lock_guard l(console_mutex_);
        if (guest_progress(console_, last) == GuestProgress::serving) break;
      }
      if (machine_->vm().stopping() || std::chrono::steady_clock::now() > deadline) {
        std::string tail = console_tail();
        stop();
        return make_error(std::errc::timed_out, "tideguest did not start serving the balloon (" + last + "); console: " + tail);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return ok();
  }

  Status set_target(uint64_t balloon_bytes) override {
    if (!machine_) return make_error(std::errc::invalid_argument, "not started");
    (void)machine_->balloon()->set_target_pages(balloon_bytes >> gmm::kPageShift);
    return ok();
  }

  Result<BalloonSample> sample() override {
    if (!machine_) return make_error(std::errc::invalid_argument, "not started");
    if (machine_->vm().stopping()) return make_error(std::errc::io_error, "the guest ended; console: " + console_tail());
    BalloonSample s;
    const balloon::BalloonStatus st = machine_->balloon()->status();
    s.target_bytes = st.target_pages << gmm::kPageShift;
    s.actual_bytes = st.actual_pages << gmm::kPageShift;
    const gmm::PoolStats pool = manager_->stats();
    s.host_bytes = pool.resident_bytes;
    s.pool_free_bytes = (pool.free_frames + pool.hot_frames) << gmm::kPageShift;
    return s;
  }

  std::optional<InflateCost> inflate_cost() override {
    if (!machine_ || !machine_->balloon()) return std::nullopt;
    const balloon::BalloonCounters c = machine_->balloon()->counters();
    if (c.inflate_timed_pages == 0) return std::nullopt;
    return InflateCost{c.inflate_cpu_ns_per_page(), c.inflate_ns_per_page()};
  }

  void stop() override {
    if (machine_) {
      machine_->stop(VmExit{VmExit::Kind::stopped, 0, "benchmark done"});
      machine_->wait();
      machine_ptr_.store(nullptr);
      machine_.reset();
    }
    events_.stop();
    manager_.reset();
  }

 private:
  std::string console_tail() {
    std::lock_guard l(console_mutex_);
    return console_.size() > 2000 ? console_.substr(console_.size() - 2000) : console_;
  }

  gmm::host::LinuxHostMemory host_;
  std::optional<KvmSystem> kvm_;
  std::unique_ptr<gmm::MemoryManager> manager_;
  EventLoop events_;
  std::unique_ptr<Machine> machine_;
  std::atomic<Machine*> machine_ptr_{nullptr};
  std::string accel_;
  std::mutex console_mutex_;
  std::string console_;
};

}  // namespace

std::unique_ptr<BalloonSubject> make_tide_balloon_subject() { return std::make_unique<TideBalloonSubject>(); }

}  // namespace tide::vmm::bench
