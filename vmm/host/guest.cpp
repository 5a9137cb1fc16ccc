#include "vmm/host/guest.hpp"

#include "guestmm/base/log.hpp"
#include "vmm/host/balloon_setup.hpp"
#include "vmm/host/memcg_setup.hpp"

namespace tide::vmm {
namespace {

Error wrong_state(const std::string& name, GuestState s, const char* want) {
  return make_error(std::errc::operation_not_permitted,
                    log::strf("%s is %s; it must be %s", name.c_str(), guest_state_name(s), want));
}

}  // namespace

const char* guest_state_name(GuestState s) {
  switch (s) {
    case GuestState::created: return "created";
    case GuestState::running: return "running";
    case GuestState::paused: return "paused";
    case GuestState::shutdown: return "shutdown";
  }
  return "?";
}

Guest::Guest(GuestConfig config, Env env)
    : name_(config.name), env_(std::move(env)), config_(std::move(config)), console_(std::make_unique<ConsoleBuffer>()) {}

Guest::~Guest() {
  std::lock_guard ops(ops_);
  (void)stop_locked();
}

Status Guest::boot() {
  std::lock_guard ops(ops_);
  GuestConfig cfg;
  {
    std::lock_guard l(mutex_);
    if (state_ == GuestState::running || state_ == GuestState::paused) return wrong_state(name_, state_, "created or shutdown");
    cfg = config_;
  }
  if (watcher_.joinable()) watcher_.join();  // the previous run's teardown
  if (!console_open_) {
    // Opened once and kept across boots (a PTY keeps its path for whoever is attached).
    TIDE_TRY_ASSIGN(opened, console_->open(cfg.console));
    std::lock_guard l(mutex_);
    config_.console = opened;
    cfg.console = opened;
    console_open_ = true;
  }
  MachineConfig mc;
  mc.vm.name = cfg.name;
  mc.vm.memory_bytes = gmm::align_up(cfg.memory_bytes, gmm::kPageSize);
  mc.vm.nr_vcpus = cfg.vcpus;
  mc.boot.kernel_path = cfg.kernel.empty() ? env_.default_kernel : cfg.kernel;
  mc.boot.cmdline = cfg.cmdline;
  mc.boot.initrd_path = cfg.initrd;
  mc.rng = cfg.rng;
  TIDE_TRY_ASSIGN(balloon, machine_balloon(cfg));
  mc.balloon = balloon;
  TIDE_TRY_ASSIGN(memcg, machine_memcg(cfg));
  mc.memcg = std::move(memcg);
  ConsoleBuffer* console = console_.get();
  mc.console = [console](std::span<const uint8_t> bytes) { console->write(bytes); };
  if (mc.boot.kernel_path.empty()) {
    return make_error(std::errc::no_such_file_or_directory, name_ + ": no kernel given and tideguest was not found");
  }
  MachineMemory memory;
  memory.manager = env_.memory;
  TIDE_TRY_ASSIGN(machine, Machine::create(*env_.kvm, memory, mc, *env_.events));
  if (auto st = machine->start(); !st) return prefixed(st.error(), name_);
  Machine* raw = machine.get();
  {
    std::lock_guard l(mutex_);
    machine_ = std::move(machine);
    state_ = GuestState::running;
    ++boots_;
  }
  watcher_ = std::thread([this, raw] { watch(raw); });
  log::info("%s: booted (%s, %u vCPU%s)", name_.c_str(), mc.boot.kernel_path.c_str(), cfg.vcpus, cfg.vcpus == 1 ? "" : "s");
  return ok();
}

void Guest::watch(Machine* machine) {
  pthread_setname_np(pthread_self(), "tide-watch");
  VmExit exit = machine->wait();
  std::unique_ptr<Machine> done;
  {
    std::lock_guard l(mutex_);
    done = std::move(machine_);
    state_ = GuestState::shutdown;
    last_exit_ = exit;
  }
  log::info("%s: %s (%s)", name_.c_str(), vm_exit_kind_name(exit.kind), exit.message.c_str());
  done.reset();  // vCPUs are joined: its devices and memory go now
}

Status Guest::pause() {
  std::lock_guard ops(ops_);
  Machine* m = nullptr;
  {
    std::lock_guard l(mutex_);
    if (state_ != GuestState::running) return wrong_state(name_, state_, "running");
    m = machine_.get();
  }
  m->vm().pause();
  std::lock_guard l(mutex_);
  if (state_ == GuestState::running) state_ = GuestState::paused;
  return ok();
}

Status Guest::resume() {
  std::lock_guard ops(ops_);
  std::lock_guard l(mutex_);
  if (state_ != GuestState::paused) return wrong_state(name_, state_, "paused");
  machine_->vm().resume();
  state_ = GuestState::running;
  return ok();
}

Status Guest::stop_locked() {
  Machine* m = nullptr;
  {
    std::lock_guard l(mutex_);
    if (state_ == GuestState::running || state_ == GuestState::paused) m = machine_.get();
  }
  if (m) m->stop(VmExit{VmExit::Kind::stopped, 0, "stopped through the API"});
  if (watcher_.joinable()) watcher_.join();
  return ok();
}

Status Guest::stop() {
  std::lock_guard ops(ops_);
  {
    std::lock_guard l(mutex_);
    if (state_ != GuestState::running && state_ != GuestState::paused) return wrong_state(name_, state_, "running or paused");
  }
  return stop_locked();
}

Status Guest::reboot() {
  {
    std::lock_guard ops(ops_);
    TIDE_TRY(stop_locked());
  }
  return boot();
}

GuestInfo Guest::info() const {
  GuestInfo i;
  std::lock_guard l(mutex_);
  i.config = config_;
  i.state = state_;
  i.boots = boots_;
  i.last_exit = last_exit_;
  if (machine_ && machine_->guest_memory()) {
    gmm::GuestMm& mm = *machine_->guest_memory();
    i.memory = mm.stats();
    if (auto snap = env_.memory->memcg().snapshot(mm.memcg_id())) i.memcg = std::move(*snap);
  }
  if (machine_ && machine_->balloon()) {
    i.balloon = machine_->balloon()->status();
    i.balloon_queue_faults = machine_->balloon_queue_faults();
    if (machine_->balloon_controller()) i.balloon_auto = machine_->balloon_controller()->auto_status();
  }
  i.console_bytes = console_->total();
  return i;
}

Result<uint64_t> Guest::set_balloon(uint64_t bytes) {
  std::lock_guard l(mutex_);
  const uint64_t memory = gmm::align_up(config_.memory_bytes, gmm::kPageSize);
  if (bytes > memory) {
    return make_error(std::errc::invalid_argument,
                      log::strf("%s: a balloon of %llu MiB is larger than the guest's memory (%llu MiB)", name_.c_str(),
                                static_cast<unsigned long long>(bytes >> 20), static_cast<unsigned long long>(memory >> 20)));
  }
  if (!config_.balloon.enabled) {
    return make_error(std::errc::operation_not_supported, name_ + " has no balloon device (memballoon model='none')");
  }
  const uint64_t pages = bytes >> gmm::kPageShift;
  if (machine_ && (state_ == GuestState::running || state_ == GuestState::paused)) {
    if (!machine_->balloon()) return make_error(std::errc::operation_not_supported, name_ + " runs without a balloon device");
    if (machine_->balloon_controller()) return machine_->balloon_controller()->set_manual_target(pages) << gmm::kPageShift;
    return machine_->balloon()->set_target_pages(pages) << gmm::kPageShift;
  }
  config_.current_memory_bytes = memory - (pages << gmm::kPageShift);
  return pages << gmm::kPageShift;
}

Status Guest::set_balloon_auto(std::optional<BalloonAutoOptions> options) {
  std::lock_guard l(mutex_);
  if (!machine_ || (state_ != GuestState::running && state_ != GuestState::paused)) {
    return make_error(std::errc::operation_not_permitted,
                      name_ + " is " + guest_state_name(state_) + "; auto mode needs a running guest");
  }
  if (!machine_->balloon_controller()) return make_error(std::errc::operation_not_supported, name_ + " has no balloon device");
  machine_->balloon_controller()->set_auto(std::move(options));
  return ok();
}

bool Guest::with_memory(const std::function<void(gmm::GuestMm&)>& fn) const {
  std::lock_guard l(mutex_);
  if (!machine_ || machine_->guest_memory() == nullptr) return false;
  fn(*machine_->guest_memory());
  return true;
}

bool Guest::owns(const gmm::GuestMm* mm) const {
  std::lock_guard l(mutex_);
  return machine_ && machine_->guest_memory() == mm;
}

void Guest::fail(const std::string& message) {
  std::lock_guard l(mutex_);
  if (machine_) machine_->stop(VmExit{VmExit::Kind::error, 1, message});
}

}  // namespace tide::vmm
