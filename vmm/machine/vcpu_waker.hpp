// VcpuWaker: how a vCPU sleeps in the wait port until the VMM has work for it.
// An event count: wake() bumps a counter; a vCPU's wait returns at once if the counter moved
// since that vCPU's previous wait returned, so a wake-up between the guest's last look at
// its queues and its wait is never lost (at worst the guest polls once more).
// Thread-safety: wake() and stop() from any thread; wait(i) only from vCPU i's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace tide::vmm {

class VcpuWaker {
 public:
  explicit VcpuWaker(uint32_t nr_vcpus) : last_seen_(nr_vcpus, 0) {}

  void wake();
  // Wakes every sleeper now and makes later waits return at once (VM stopping).
  void stop();
  // Returns true if woken by work (or stop), false on timeout.
  bool wait(uint32_t vcpu, std::chrono::microseconds timeout);

  [[nodiscard]] uint64_t wakes() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t count_ = 0;
  bool stopped_ = false;
  std::vector<uint64_t> last_seen_;
};

}  // namespace tide::vmm
