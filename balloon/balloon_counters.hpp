// Metrics of one balloon device: page and request counters, the cost of the inflate path,
// and one counter per kind of bad guest input (BalloonFault), each logged once per device.
// BalloonCounters is a plain snapshot for the API; CounterSet holds the live atomics
// (relaxed: each counter is exact, a snapshot is not a transaction across counters).
// Threads: any thread may add or snapshot.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tide::balloon {

// Guest mistakes (and backend refusals) the device counts and survives. Each is logged the
// first time a device sees it.
enum class BalloonFault : uint8_t {
  kPfnOutsideRam,            // inflate/deflate PFN that is not guest RAM (skipped)
  kPfnDuplicate,             // the same PFN twice in one inflate/deflate request (skipped)
  kPfnAlreadyBallooned,      // inflate of a page already in the balloon (skipped)
  kPfnNotBallooned,          // deflate of a page that is not in the balloon (skipped)
  kBadBufferLength,          // inflate/deflate buffer length not a multiple of 4 (prefix used)
  kUnexpectedWritable,       // device-writable buffer on inflateq, deflateq or statsq (ignored)
  kRequestTooLarge,          // more PFNs in one request than the device reads (rest skipped)
  kReportMisaligned,         // report buffer empty or not 4 KiB aligned in address or length (skipped)
  kReportOutsideRam,         // report buffer not wholly guest RAM (skipped)
  kReportBallooned,          // report page that is in the balloon (page skipped)
  kReportDuplicate,          // report page listed twice in one request (page skipped)
  kConfigReadOnlyWrite,      // driver write to num_pages or another read-only config field (ignored)
  kStatsUnknownTag,          // stats entry with an unknown tag (ignored, §5.5.6.3)
  kStatsPartialEntry,        // stats buffer length not a multiple of 10 (tail ignored)
  kStatsTooLarge,            // stats entries past the device's bound (ignored)
  kStatsExtraBuffer,         // a stats buffer queued while the device held one (old one returned)
  kQueueUnused,              // a notification on a queue the negotiated features do not define
  kBackendError,             // the memory manager refused an inflate, deflate or report
  kReportReadable,           // device-readable buffer on reporting_vq (ignored; Linux sends writable ones)
  kCount,
};
inline constexpr size_t kBalloonFaultKinds = static_cast<size_t>(BalloonFault::kCount);
[[nodiscard]] const char* balloon_fault_name(BalloonFault fault);

struct BalloonCounters {
  // Pages (4 KiB). deflated_pages includes migrated, oom_deflated and unrequested_deflated.
  uint64_t inflated_pages = 0;              // accepted into the balloon
  uint64_t deflated_pages = 0;              // taken out of the balloon by deflate requests
  uint64_t reported_pages = 0;              // free page reporting, handed to the backend
  uint64_t migrated_pages = 0;              // deflates that undo unrequested inflates (balloon compaction)
  uint64_t oom_deflated_pages = 0;          // deflates at or below target with DEFLATE_ON_OOM
  uint64_t unrequested_inflated_pages = 0;  // inflates beyond the target
  uint64_t unrequested_deflated_pages = 0;  // deflates at or below target without DEFLATE_ON_OOM
  uint64_t reset_deflated_pages = 0;        // returned to the guest by a device reset
  uint64_t pressure_asked_pages = 0;        // target raises asked by the host's memory reclaim (memcg pressure)
  // Requests (descriptor chains) and stats buffers.
  uint64_t inflate_requests = 0;
  uint64_t deflate_requests = 0;
  uint64_t report_requests = 0;
  uint64_t stats_buffers = 0;   // stats buffers received from the driver
  uint64_t stats_requests = 0;  // held buffers returned to ask for fresh stats
  // What the backend gave back to the pool.
  uint64_t frames_released = 0;
  uint64_t host_bytes_released = 0;
  // Host cost of the inflate path (parse + checks + backend calls), for ns per page.
  uint64_t inflate_ns = 0;
  uint64_t inflate_timed_pages = 0;
  uint64_t inflate_cpu_ns = 0;  // ... the CPU time of the thread that ran it
  // Bad guest input, by kind.
  std::array<uint64_t, kBalloonFaultKinds> faults{};

  [[nodiscard]] uint64_t fault(BalloonFault f) const { return faults[static_cast<size_t>(f)]; }
  [[nodiscard]] uint64_t total_faults() const;
  // Mean host ns per inflated page (0 before any).
  [[nodiscard]] double inflate_ns_per_page() const;
  // Mean host CPU ns per inflated page (0 before any).
  [[nodiscard]] double inflate_cpu_ns_per_page() const;
};

// The live counters.
class CounterSet {
 public:
  struct Live {
    std::atomic<uint64_t> inflated_pages{0}, deflated_pages{0}, reported_pages{0}, migrated_pages{0},
        oom_deflated_pages{0}, unrequested_inflated_pages{0}, unrequested_deflated_pages{0},
        reset_deflated_pages{0}, pressure_asked_pages{0}, inflate_requests{0}, deflate_requests{0},
        report_requests{0}, stats_buffers{0}, stats_requests{0}, frames_released{0}, inflate_ns{0}, inflate_timed_pages{0}, inflate_cpu_ns{0};
  };

  explicit CounterSet(std::string name) : name_(std::move(name)) {}

  static void add(std::atomic<uint64_t>& counter, uint64_t n) { counter.fetch_add(n, std::memory_order_relaxed); }
  // Counts `n` of `kind`; logs `detail` the first time this device sees the kind.
  void fault(BalloonFault kind, uint64_t n, const std::string& detail);

  [[nodiscard]] BalloonCounters snapshot() const;

  Live live;

 private:
  std::string name_;
  std::array<std::atomic<uint64_t>, kBalloonFaultKinds> faults_{};
  std::atomic<uint32_t> logged_{0};
  static_assert(kBalloonFaultKinds <= 32);
};

}  // namespace tide::balloon
