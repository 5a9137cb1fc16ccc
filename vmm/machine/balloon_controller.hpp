// BalloonController: the host side's clock for one balloon device. Every stats period it
// asks the driver for fresh statistics (returns the held stats buffer, as QEMU's
// guest-stats-polling-interval timer does); in auto mode it also sets the target from the
// balloon policy (balloon/balloon_policy.hpp) every policy period. Runs on its own thread,
// joined by the destructor (before the device goes).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "balloon/balloon_device.hpp"
#include "guestmm/memory_manager.hpp"

namespace tide::vmm {

struct BalloonControllerOptions {
  uint32_t stats_period_s = 0;  // 0: the device never asks for stats
};

class BalloonController {
 public:
  BalloonController(balloon::BalloonDevice& device, gmm::MemoryManager& memory, BalloonControllerOptions options);
  BalloonController(const BalloonController&) = delete;
  BalloonController& operator=(const BalloonController&) = delete;
  ~BalloonController();

  // Changes the stats period (0 stops asking). Thread: any.
  void set_stats_period(uint32_t seconds);
  [[nodiscard]] BalloonControllerOptions options() const;

 private:
  void run();

  balloon::BalloonDevice& device_;
  gmm::MemoryManager& memory_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  BalloonControllerOptions options_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tide::vmm
