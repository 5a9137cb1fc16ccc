// SpinLock: a test-and-test-and-set lock for critical sections of a few dozen
// instructions (allocator free lists, per-guest frame caches). Satisfies Lockable, so it
// works with std::lock_guard / std::unique_lock. Never hold it across a system call.
#pragma once

#include <atomic>

namespace tide {

class SpinLock {
 public:
  void lock() noexcept {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace tide
