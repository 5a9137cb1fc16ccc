// TestHooks: a port device (0x510..0x517) that lets a test guest ask the VMM to do things a
// real guest cannot, so memory-manager paths can be tested end to end. Present only when
// tide runs with --test-hooks. Protocol (32-bit port accesses):
//   in  0x510 -> 0x4b4f4f48 ("HOOK")
//   out 0x510 <- first GFN of a range (latched)
//   out 0x514 <- page count: release [GFN, GFN+count) (the pages become Empty: their frames
//                go back to the pool and the next touch brings zeroed frames)
//   in  0x514 -> pages whose frames the last release took back, 0xffffffff if refused
// Accesses come from vCPU threads; the release callback runs on the calling vCPU thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

#include "devices/bus.hpp"
#include "guestmm/base/error.hpp"

namespace tide::dev {

class TestHooks final : public BusDevice {
 public:
  static constexpr uint64_t kBase = 0x510;
  static constexpr uint64_t kLength = 8;
  static constexpr uint32_t kSignature = 0x4b4f4f48;  // "HOOK"
  static constexpr uint32_t kRefused = 0xffffffff;

  // Returns how many frames were taken back, or an error (the guest reads kRefused).
  using ReleaseFn = std::function<Result<uint64_t>(uint64_t first_gfn, uint32_t count)>;
  explicit TestHooks(ReleaseFn release) : release_(std::move(release)) {}

  void read(uint64_t base, uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t base, uint64_t offset, std::span<const uint8_t> data) override;

  [[nodiscard]] uint64_t releases() const { return releases_.load(std::memory_order_relaxed); }

 private:
  const ReleaseFn release_;
  std::mutex mutex_;
  uint64_t gfn_ = 0;
  uint32_t last_result_ = 0;
  std::atomic<uint64_t> releases_{0};
};

}  // namespace tide::dev
