// The balloon's time source: monotonic nanoseconds (stats timestamps, inflate-path cost).
// Tests replace it with a fake clock they advance by hand.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace tide::balloon {

using Clock = std::function<uint64_t()>;

// std::chrono::steady_clock in ns. Thread: any.
[[nodiscard]] inline uint64_t monotonic_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace tide::balloon
