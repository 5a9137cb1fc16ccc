#include "balloon/balloon_counters.hpp"

#include "guestmm/base/log.hpp"
#include "guestmm/types.hpp"

namespace tide::balloon {

const char* balloon_fault_name(BalloonFault fault) {
  switch (fault) {
    case BalloonFault::kPfnOutsideRam: return "pfn_outside_ram";
    case BalloonFault::kPfnDuplicate: return "pfn_duplicate_in_request";
    case BalloonFault::kPfnAlreadyBallooned: return "pfn_already_ballooned";
    case BalloonFault::kPfnNotBallooned: return "pfn_not_ballooned";
    case BalloonFault::kBadBufferLength: return "bad_buffer_length";
    case BalloonFault::kUnexpectedWritable: return "unexpected_writable_buffer";
    case BalloonFault::kRequestTooLarge: return "request_too_large";
    case BalloonFault::kReportMisaligned: return "report_misaligned";
    case BalloonFault::kReportOutsideRam: return "report_outside_ram";
    case BalloonFault::kReportBallooned: return "report_ballooned_page";
    case BalloonFault::kReportDuplicate: return "report_duplicate_page";
    case BalloonFault::kConfigReadOnlyWrite: return "config_read_only_write";
    case BalloonFault::kStatsUnknownTag: return "stats_unknown_tag";
    case BalloonFault::kStatsPartialEntry: return "stats_partial_entry";
    case BalloonFault::kStatsTooLarge: return "stats_too_large";
    case BalloonFault::kStatsExtraBuffer: return "stats_extra_buffer";
    case BalloonFault::kQueueUnused: return "queue_unused";
    case BalloonFault::kBackendError: return "backend_error";
    case BalloonFault::kReportReadable: return "report_readable_buffer";
    case BalloonFault::kCount: break;
  }
  return "unknown";
}

uint64_t BalloonCounters::total_faults() const {
  uint64_t n = 0;
  for (uint64_t f : faults) n += f;
  return n;
}

double BalloonCounters::inflate_cpu_ns_per_page() const {
  if (inflate_timed_pages == 0) return 0.0;
  return static_cast<double>(inflate_cpu_ns) / static_cast<double>(inflate_timed_pages);
}

double BalloonCounters::inflate_ns_per_page() const {
  if (inflate_timed_pages == 0) return 0.0;
  return static_cast<double>(inflate_ns) / static_cast<double>(inflate_timed_pages);
}

void CounterSet::fault(BalloonFault kind, uint64_t n, const std::string& detail) {
  if (n == 0) return;
  auto index = static_cast<size_t>(kind);
  faults_[index].fetch_add(n, std::memory_order_relaxed);
  uint32_t bit = uint32_t{1} << index;
  if ((logged_.fetch_or(bit, std::memory_order_relaxed) & bit) == 0) {
    if (kind == BalloonFault::kBackendError) {
      log::warn("%s: memory manager refused a request (%s); counted, further ones not logged", name_.c_str(),
                detail.c_str());
    } else {
      log::warn("%s: guest driver error %s (%s); counted, further ones not logged", name_.c_str(),
                balloon_fault_name(kind), detail.c_str());
    }
  }
}

BalloonCounters CounterSet::snapshot() const {
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  BalloonCounters s;
  s.inflated_pages = get(live.inflated_pages);
  s.deflated_pages = get(live.deflated_pages);
  s.reported_pages = get(live.reported_pages);
  s.migrated_pages = get(live.migrated_pages);
  s.oom_deflated_pages = get(live.oom_deflated_pages);
  s.unrequested_inflated_pages = get(live.unrequested_inflated_pages);
  s.unrequested_deflated_pages = get(live.unrequested_deflated_pages);
  s.reset_deflated_pages = get(live.reset_deflated_pages);
  s.pressure_asked_pages = get(live.pressure_asked_pages);
  s.inflate_requests = get(live.inflate_requests);
  s.deflate_requests = get(live.deflate_requests);
  s.report_requests = get(live.report_requests);
  s.stats_buffers = get(live.stats_buffers);
  s.stats_requests = get(live.stats_requests);
  s.frames_released = get(live.frames_released);
  s.host_bytes_released = s.frames_released * gmm::kPageSize;
  s.inflate_ns = get(live.inflate_ns);
  s.inflate_timed_pages = get(live.inflate_timed_pages);
  s.inflate_cpu_ns = get(live.inflate_cpu_ns);
  for (size_t i = 0; i < kBalloonFaultKinds; ++i) s.faults[i] = faults_[i].load(std::memory_order_relaxed);
  return s;
}

}  // namespace tide::balloon
