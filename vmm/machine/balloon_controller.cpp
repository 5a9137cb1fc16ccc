#include "vmm/machine/balloon_controller.hpp"

#include <pthread.h>

#include <chrono>

namespace tide::vmm {

BalloonController::BalloonController(balloon::BalloonDevice& device, gmm::MemoryManager& memory,
                                     BalloonControllerOptions options)
    : device_(device), memory_(memory), options_(options) {
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
  }
  cv_.notify_all();
}

BalloonControllerOptions BalloonController::options() const {
  std::lock_guard l(mutex_);
  return options_;
}

void BalloonController::run() {
  pthread_setname_np(pthread_self(), "tide-balloon");
  using clock = std::chrono::steady_clock;
  auto next_stats = clock::now();
  std::unique_lock l(mutex_);
  while (!stop_) {
    const uint32_t period = options_.stats_period_s;
    if (period == 0) {
      cv_.wait(l, [&] { return stop_ || options_.stats_period_s != 0; });
      next_stats = clock::now();
      continue;
    }
    if (clock::now() >= next_stats) {
      l.unlock();
      (void)device_.request_stats();  // false until the driver has sent its first buffer
      l.lock();
      next_stats = clock::now() + std::chrono::seconds(period);
    }
    cv_.wait_until(l, next_stats, [&] { return stop_ || options_.stats_period_s != period; });
  }
}

}  // namespace tide::vmm
