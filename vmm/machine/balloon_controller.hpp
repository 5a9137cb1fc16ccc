// BalloonController: the host side's clock for one balloon device. Every stats period it
// asks the driver for fresh statistics (returns the held stats buffer, as QEMU's
// guest-stats-polling-interval timer does). In auto mode it also sets the target from the
// balloon policy (balloon/balloon_policy.hpp: keep the guest's available memory near a
// margin, harder under pool pressure) once per period, right after fresh stats can have
// arrived. Off by default; an explicit target from the user turns it off.
// Memory pressure: reclaim_for_pressure() is the memory manager's balloon hook; it raises
// the target as far as the guest's statistics allow (balloon_reclaim.hpp), leaves auto mode
// as it is, counts what it asked in the device's pressure_asked_pages, and has this thread
// fetch fresh statistics when they are old, even without a stats period.
// Runs on its own thread, joined by the destructor (before the device goes).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "balloon/balloon_device.hpp"
#include "balloon/balloon_policy.hpp"
#include "guestmm/memory_manager.hpp"
#include "vmm/machine/balloon_reclaim.hpp"

namespace tide::vmm {

struct BalloonAutoOptions {
  balloon::BalloonPolicyParams params;
  balloon::GuestMemoryLimits limits;
};

struct BalloonControllerOptions {
  uint32_t stats_period_s = 0;  // 0: the device never asks for stats (auto mode uses 1)
  std::optional<BalloonAutoOptions> auto_mode;
  // Memory pressure: what the guest keeps of its available memory, and how old its
  // statistics may be (older ones ask for nothing, only for fresh figures).
  uint64_t pressure_reserve_bytes = kBalloonReclaimReserveBytes;
  uint64_t pressure_max_stats_age_ns = uint64_t{10} * 1000 * 1000 * 1000;
};

// What auto mode did last.
struct BalloonAutoStatus {
  bool enabled = false;
  BalloonAutoOptions options;
  uint64_t decisions = 0;      // policy runs
  uint64_t target_changes = 0; // ... that moved the target
  std::optional<balloon::BalloonPolicyDecision> last;
};

class BalloonController {
 public:
  BalloonController(balloon::BalloonDevice& device, gmm::MemoryManager& memory, BalloonControllerOptions options);
  BalloonController(const BalloonController&) = delete;
  BalloonController& operator=(const BalloonController&) = delete;
  ~BalloonController();

  // Changes the stats period (0 stops asking). Thread: any.
  void set_stats_period(uint32_t seconds);
  // Turns auto mode on (with these options) or off (nullopt). Thread: any.
  void set_auto(std::optional<BalloonAutoOptions> options);
  [[nodiscard]] BalloonControllerOptions options() const;
  [[nodiscard]] BalloonAutoStatus auto_status() const;
  // One policy decision now, applied (auto mode's step; public for tests). Thread: any.
  balloon::BalloonPolicyDecision decide_and_apply(const BalloonAutoOptions& options);
  // The user's target: auto mode off, then the target set, so that no decision already
  // under way can overwrite it. Returns the target set (pages). Thread: any.
  uint64_t set_manual_target(uint64_t pages);
  // The memory manager's balloon hook: raises the target by up to `pages`, as far as the
  // guest's latest statistics say it can give (balloon_reclaim_pages, with auto mode's
  // limits when it has them). Returns the pages asked (0: no driver, no or stale
  // statistics, nothing to give, or the controller or device busy this instant).
  // Asynchronous: the frames come back as the driver inflates. It never waits on the
  // device or touches guest memory (a device thread holding the device may be in a guest
  // fault that waits for this reclaim): it only tries their locks, and statistics older
  // than a second are refreshed by the controller's own thread, for a later call.
  // Thread: any (the reclaim thread).
  uint64_t reclaim_for_pressure(uint64_t pages);

 private:
  void run();
  // decide_and_apply, unless auto mode was turned off meanwhile (the timer's path).
  std::optional<balloon::BalloonPolicyDecision> decide_if_auto();
  // The decision and its target; apply_mutex_ held.
  balloon::BalloonPolicyDecision decide(const BalloonAutoOptions& options);

  balloon::BalloonDevice& device_;
  gmm::MemoryManager& memory_;
  std::mutex apply_mutex_;  // a decision and its target, against a user's target; before mutex_
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  BalloonControllerOptions options_;
  uint64_t generation_ = 0;  // bumped by every options change (wakes the thread)
  BalloonAutoStatus auto_status_;
  // Memory pressure's bookkeeping (under apply_mutex_): the statistics it last sized
  // against and what it asked since they arrived.
  uint64_t pressure_stats_sequence_ = 0;
  uint64_t pressure_asked_since_stats_ = 0;
  bool stats_wanted_ = false;  // under mutex_: memory pressure wants fresh statistics
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tide::vmm
