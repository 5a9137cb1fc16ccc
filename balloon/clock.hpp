// The balloon's time source: monotonic nanoseconds (stats timestamps, inflate-path cost).
// Tests replace it with a fake clock they advance by hand.
#pragma once

#include <time.h>

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

// CPU time the calling thread has used, in ns (CLOCK_THREAD_CPUTIME_ID): the host's cost
// of a piece of work, whatever else the machine runs meanwhile. Thread: any.
[[nodiscard]] inline uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace tide::balloon
