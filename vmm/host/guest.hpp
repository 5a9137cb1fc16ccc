// Guest: one guest of `tide host` — its definition (GuestConfig) and, while it runs, its
// Machine. States: created (defined, never booted) -> running <-> paused -> shutdown
// (stopped, or exited by itself; it can be booted again). A watcher thread waits for the
// machine to end and tears it down (its frames go back to the pool), whoever ended it.
// Lifecycle calls are serialized per guest; info() may be called at any time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "guestmm/guest_mm.hpp"
#include "guestmm/memory_manager.hpp"
#include "vmm/config/guest_config.hpp"
#include "vmm/host/console_buffer.hpp"
#include "vmm/kvm/system.hpp"
#include "vmm/machine/event_loop.hpp"
#include "vmm/machine/machine.hpp"

namespace tide::vmm {

enum class GuestState { created, running, paused, shutdown };
[[nodiscard]] const char* guest_state_name(GuestState s);

struct GuestInfo {
  GuestConfig config;               // the definition (console.path set once a PTY exists)
  GuestState state = GuestState::created;
  uint64_t boots = 0;
  std::optional<VmExit> last_exit;  // how it last ended
  std::optional<gmm::GuestMmStats> memory;  // while it has memory
  std::optional<gmm::memcg::MemcgSnapshot> memcg;  // its memory cgroup, while it has memory
  std::optional<balloon::BalloonStatus> balloon;  // while it runs with a balloon device
  std::map<std::string, uint64_t> balloon_queue_faults;  // its virtqueues' faults by kind
  std::optional<BalloonAutoStatus> balloon_auto;          // auto mode, while it runs
  uint64_t console_bytes = 0;
};

class Guest {
 public:
  struct Env {
    const KvmSystem* kvm = nullptr;
    gmm::MemoryManager* memory = nullptr;
    EventLoop* events = nullptr;
    std::string default_kernel;  // tideguest, for definitions without a kernel
  };

  Guest(GuestConfig config, Env env);
  Guest(const Guest&) = delete;
  Guest& operator=(const Guest&) = delete;
  // Stops it if it runs.
  ~Guest();

  [[nodiscard]] const std::string& name() const { return name_; }
  // Errors (clear, for the API): wrong state (errc::operation_not_permitted), boot failures.
  [[nodiscard]] Status boot();
  [[nodiscard]] Status pause();
  [[nodiscard]] Status resume();
  // Stops a running or paused guest now ("forced shutdown"); its memory returns to the pool.
  [[nodiscard]] Status stop();
  // stop() then boot() with the same definition.
  [[nodiscard]] Status reboot();
  [[nodiscard]] GuestInfo info() const;
  // Sets the balloon's size (bytes, rounded down to 4 KiB pages, at most the guest's
  // memory). Running: the device's target moves now; defined but not running: the
  // definition's current memory changes (the next boot starts there). Returns the size set.
  // Errors: no balloon (errc::operation_not_supported), size above memory (invalid_argument).
  // An explicit size also turns auto mode off.
  [[nodiscard]] Result<uint64_t> set_balloon(uint64_t bytes);
  // Auto mode on (options) or off (nullopt), for a running guest with a balloon.
  [[nodiscard]] Status set_balloon_auto(std::optional<BalloonAutoOptions> options);
  [[nodiscard]] std::string console(uint64_t from, uint64_t* next) const { return console_->read(from, next); }
  // The guest's memory under the allocator while it runs (for fault-error routing).
  [[nodiscard]] bool owns(const gmm::GuestMm* mm) const;
  // Runs `fn` on the guest's memory while it has some, under the guest's lock (so it
  // stays); false without. `fn` must be quick and must not call back into this Guest.
  bool with_memory(const std::function<void(gmm::GuestMm&)>& fn) const;
  // Ends the guest with an error (its memory could not be served). Thread: any; never blocks.
  void fail(const std::string& message);

 private:
  void watch(Machine* machine);
  [[nodiscard]] Status stop_locked();

  const std::string name_;
  Env env_;
  std::mutex ops_;            // serializes lifecycle operations
  mutable std::mutex mutex_;  // guards everything below
  GuestConfig config_;
  GuestState state_ = GuestState::created;
  uint64_t boots_ = 0;
  std::optional<VmExit> last_exit_;
  std::unique_ptr<Machine> machine_;
  std::unique_ptr<ConsoleBuffer> console_;
  bool console_open_ = false;  // under ops_
  std::thread watcher_;
};

}  // namespace tide::vmm
