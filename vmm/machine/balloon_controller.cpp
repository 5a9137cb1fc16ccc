#include "vmm/machine/balloon_controller.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include "guestmm/base/log.hpp"

namespace tide::vmm {
namespace {

// Statistics older than this make memory pressure ask the controller's thread for fresh ones.
constexpr uint64_t kPressureStatsRefreshNs = uint64_t{1000} * 1000 * 1000;

}  // namespace

BalloonController::BalloonController(balloon::BalloonDevice& device, gmm::MemoryManager& memory,
                                     BalloonControllerOptions options)
    : device_(device), memory_(memory), options_(std::move(options)) {
  auto_status_.enabled = options_.auto_mode.has_value();
  if (options_.auto_mode) auto_status_.options = *options_.auto_mode;
  thread_ = std::thread([this] { run(); });
}

BalloonController::~BalloonController() {
  {
    std::lock_guard l(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BalloonController::set_stats_period(uint32_t seconds) {
  {
    std::lock_guard l(mutex_);
    options_.stats_period_s = seconds;
    ++generation_;
  }
  cv_.notify_all();
}

void BalloonController::set_auto(std::optional<BalloonAutoOptions> options) {
  {
    std::lock_guard l(mutex_);
    options_.auto_mode = options;
    auto_status_.enabled = options.has_value();
    if (options) auto_status_.options = *options;
    ++generation_;
  }
  cv_.notify_all();
}

BalloonControllerOptions BalloonController::options() const {
  std::lock_guard l(mutex_);
  return options_;
}

BalloonAutoStatus BalloonController::auto_status() const {
  std::lock_guard l(mutex_);
  return auto_status_;
}

uint64_t BalloonController::set_manual_target(uint64_t pages) {
  std::lock_guard apply(apply_mutex_);
  set_auto(std::nullopt);
  return device_.set_target_pages(pages);
}

uint64_t BalloonController::reclaim_for_pressure(uint64_t pages) {
  // The memory manager's reclaim thread: never wait here. A device thread holding these
  // locks may be inside a guest-memory fault that waits for this very reclaim; and nothing
  // here may touch guest memory (a virtqueue write could fault and wait for it too), so
  // fresh statistics come from the controller's thread, not from a request made here.
  std::unique_lock apply(apply_mutex_, std::try_to_lock);
  if (!apply.owns_lock()) return 0;
  BalloonReclaimInput in;
  {
    std::lock_guard l(mutex_);
    in.reserve_bytes = options_.pressure_reserve_bytes;
    in.max_stats_age_ns = options_.pressure_max_stats_age_ns;
    if (options_.auto_mode) in.limits = options_.auto_mode->limits;
  }
  const std::optional<balloon::BalloonStatus> status = device_.try_status();
  if (!status) return 0;
  const balloon::BalloonStatus& s = *status;
  in.wanted_pages = pages;
  in.active = s.active;
  in.ram_pages = s.ram_pages;
  in.target_pages = s.target_pages;
  in.actual_pages = s.actual_pages;
  if (s.stats) {
    if (s.stats->sequence != pressure_stats_sequence_) {
      pressure_stats_sequence_ = s.stats->sequence;
      pressure_asked_since_stats_ = 0;
    }
    const uint64_t now = device_.options().clock();
    in.stats_age_ns = now > s.stats->updated_ns ? now - s.stats->updated_ns : 0;
    in.available_bytes = reclaimable_bytes(*s.stats);
    in.asked_since_stats_pages = pressure_asked_since_stats_;
  }
  // Without a stats period the figures would stay as old as the driver's first buffer:
  // the controller's thread asks for fresh ones, so a later call can size against them.
  if (s.active && (!s.stats || in.stats_age_ns > kPressureStatsRefreshNs)) {
    {
      std::lock_guard l(mutex_);
      stats_wanted_ = true;
    }
    cv_.notify_all();
  }
  const uint64_t asked = balloon_reclaim_pages(in);
  if (asked == 0 || !device_.try_set_target_pages(s.target_pages + asked)) return 0;
  device_.count_pressure_request(asked);
  pressure_asked_since_stats_ += asked;
  return asked;
}

std::optional<balloon::BalloonPolicyDecision> BalloonController::decide_if_auto() {
  std::lock_guard apply(apply_mutex_);
  std::optional<BalloonAutoOptions> options;
  {
    std::lock_guard l(mutex_);
    options = options_.auto_mode;
  }
  if (!options) return std::nullopt;
  return decide(*options);
}

balloon::BalloonPolicyDecision BalloonController::decide_and_apply(const BalloonAutoOptions& options) {
  std::lock_guard apply(apply_mutex_);
  return decide(options);
}

balloon::BalloonPolicyDecision BalloonController::decide(const BalloonAutoOptions& options) {
  const balloon::BalloonStatus s = device_.status();
  const gmm::PoolStats pool = memory_.stats();
  balloon::PolicyInput in;
  in.guest_ram_bytes = s.ram_pages * gmm::kPageSize;
  in.target_bytes = s.target_pages * gmm::kPageSize;
  in.balloon_bytes = s.actual_pages * gmm::kPageSize;
  if (s.stats) in.stats = balloon::policy_stats(*s.stats, device_.options().clock());
  in.limits = options.limits;
  in.pool.free_bytes = (pool.free_frames + pool.cached_frames + pool.hot_frames) * gmm::kPageSize;
  in.pool.total_bytes = pool.total_frames * gmm::kPageSize;
  in.params = options.params;
  balloon::BalloonPolicyDecision d = balloon::decide_target(in);
  const bool move = d.target_pages() != s.target_pages;
  if (move) (void)device_.set_target_pages(d.target_pages());
  std::lock_guard l(mutex_);
  ++auto_status_.decisions;
  if (move) ++auto_status_.target_changes;
  auto_status_.last = d;
  return d;
}

void BalloonController::run() {
  pthread_setname_np(pthread_self(), "tide-balloon");
  using clock = std::chrono::steady_clock;
  auto next_stats = clock::now();
  bool auto_due = false;  // a decision waits for next_auto
  auto next_auto = clock::now();
  std::unique_lock l(mutex_);
  while (!stop_) {
    if (stats_wanted_) {
      // Memory pressure wants fresh figures (reclaim_for_pressure): ask now, on this thread.
      stats_wanted_ = false;
      l.unlock();
      (void)device_.request_stats();
      l.lock();
      continue;
    }
    const uint64_t generation = generation_;
    const bool autom = options_.auto_mode.has_value();
    const uint32_t period = std::max<uint32_t>(options_.stats_period_s, autom ? 1 : 0);
    if (period == 0) {
      cv_.wait(l, [&] { return stop_ || generation_ != generation || stats_wanted_; });
      if (generation_ == generation) continue;
      next_stats = clock::now();
      auto_due = false;
      continue;
    }
    const auto now = clock::now();
    if (now >= next_stats) {
      l.unlock();
      (void)device_.request_stats();  // false until the driver has sent its first buffer
      l.lock();
      next_stats = now + std::chrono::seconds(period);
      // Decide once the driver had time to answer with fresh figures.
      if (autom && !auto_due) {
        auto_due = true;
        next_auto = now + std::chrono::milliseconds(200);
      }
    }
    // Auto mode may have been turned off while the lock was dropped for request_stats.
    if (autom && auto_due && clock::now() >= next_auto) {
      l.unlock();
      // Rechecks auto mode under the apply lock: the user may have turned it off meanwhile.
      const std::optional<balloon::BalloonPolicyDecision> d = decide_if_auto();
      if (d && d->action != balloon::PolicyAction::kKeep) log::debug("balloon auto: %s", d->reason.c_str());
      l.lock();
      auto_due = false;
    }
    auto wake = next_stats;
    if (auto_due) wake = std::min(wake, next_auto);
    cv_.wait_until(l, wake, [&] { return stop_ || generation_ != generation || stats_wanted_; });
    if (generation_ != generation) auto_due = false;
  }
}

}  // namespace tide::vmm
