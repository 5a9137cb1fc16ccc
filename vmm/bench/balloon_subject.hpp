// BalloonSubject: one VMM running tideguest with a balloon, as the balloon experiment
// (`tide bench balloon`) drives it: set a target, sample what the guest and the host show.
// Implementations: TideBalloonSubject (tide in this process), QemuBalloonSubject (QEMU
// from Debian, targets through QMP, its RSS as host memory).
// Threads: one caller at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "guestmm/base/error.hpp"

namespace tide::vmm::bench {

struct BalloonSubjectConfig {
  uint64_t memory_bytes = uint64_t{1} << 30;  // guest RAM
  std::string tideguest;                      // path of tideguest.elf
  std::string workdir;                        // scratch files (QMP socket, logs)
  uint32_t stats_period_s = 1;                // how often the device asks for stats
  // tideguest's script (tide.run), ending in `serve`, and more kernel parameters. The
  // experiment touches most of the guest first (so the inflate has resident memory to
  // release) with free page reporting off ("tide.balloon_report_ms=0"), the same on both
  // VMMs. The guest is up once it echoes its last command and serve reports the balloon.
  std::string guest_script = "serve";
  std::string guest_params;
};

struct BalloonSample {
  uint64_t target_bytes = 0;     // what the subject was told to hold in the balloon
  uint64_t actual_bytes = 0;     // the balloon's size as the driver reports it (`actual`)
  uint64_t host_bytes = 0;       // host memory backing the guest (tide: resident frames; QEMU: RSS)
  uint64_t pool_free_bytes = 0;  // tide: the pool's free bytes; QEMU: 0 (no pool)
};

struct InflateCost {
  double cpu_ns_per_page = 0;   // CPU time of the thread that ran the inflate path
  double wall_ns_per_page = 0;  // elapsed time of the same path (includes preemption)
};

class BalloonSubject {
 public:
  virtual ~BalloonSubject() = default;
  // "tide" or "qemu"; for CSV columns and plot titles.
  [[nodiscard]] virtual std::string name() const = 0;
  // How the guest runs ("kvm", or "tcg" when QEMU could not use KVM); "" before start().
  [[nodiscard]] virtual std::string accel() const = 0;
  // Boots tideguest with the balloon device and `serve`, returns when the driver is up
  // (actual readable, balloon empty).
  [[nodiscard]] virtual Status start(const BalloonSubjectConfig& config) = 0;
  // Balloon target in bytes (0: empty balloon). Returns at once.
  [[nodiscard]] virtual Status set_target(uint64_t balloon_bytes) = 0;
  [[nodiscard]] virtual Result<BalloonSample> sample() = 0;
  // The VMM's own account of its host-side cost per inflated page (nullopt if it keeps
  // none). Called before stop().
  [[nodiscard]] virtual std::optional<InflateCost> inflate_cost() { return std::nullopt; }
  // Stops the guest and the VMM; the last errors or the guest's console on failure.
  virtual void stop() = 0;
};

}  // namespace tide::vmm::bench
