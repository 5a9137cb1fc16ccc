#include "vmm/cli/memory_report.hpp"

#include "guestmm/base/log.hpp"
#include "vmm/cli/size.hpp"

namespace tide::vmm {
namespace {

double mib(uint64_t frames) { return static_cast<double>(frames) * 4096.0 / (1024.0 * 1024.0); }

}  // namespace

std::string guest_memory_line(const gmm::GuestMm& guest) {
  const gmm::GuestMmStats s = guest.stats();
  return log::strf("%s: resident=%.1fMiB (%llu frames) faults=%llu fault_around=%llu refills=%llu released=%llu "
                   "release_calls=%llu remaps=%llu hot_reuses=%llu",
                   guest.name().c_str(), mib(s.resident_frames), static_cast<unsigned long long>(s.resident_frames),
                   static_cast<unsigned long long>(s.faults), static_cast<unsigned long long>(s.fault_around),
                   static_cast<unsigned long long>(s.refills), static_cast<unsigned long long>(s.frames_released),
                   static_cast<unsigned long long>(s.release_calls), static_cast<unsigned long long>(s.window_remaps),
                   static_cast<unsigned long long>(s.hot_reuses));
}

std::string pool_line(const gmm::PoolStats& p) {
  return log::strf("pool: total=%.1fMiB free=%.1fMiB cached=%.1fMiB hot=%.1fMiB scrubbing=%.1fMiB used=%.1fMiB "
                   "host_resident=%.1fMiB scrubbed=%llu punch_calls=%llu",
                   mib(p.total_frames), mib(p.free_frames), mib(p.cached_frames), mib(p.hot_frames),
                   mib(p.scrubbing_frames), mib(p.used_frames), static_cast<double>(p.resident_bytes) / (1024.0 * 1024.0),
                   static_cast<unsigned long long>(p.scrubbed_frames), static_cast<unsigned long long>(p.punch_calls));
}

std::string balloon_line(const balloon::BalloonStatus& s) {
  const balloon::BalloonCounters& c = s.counters;
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  return log::strf("target=%s actual=%s inflated=%llu deflated=%llu migrated=%llu oom=%llu reported=%llu bad=%llu "
                   "host_released=%s inflate_ns_per_page=%.1f inflate_cpu_ns_per_page=%.1f",
                   format_size(s.target_pages * gmm::kPageSize).c_str(),
                   format_size(s.actual_pages * gmm::kPageSize).c_str(), u(c.inflated_pages), u(c.deflated_pages),
                   u(c.migrated_pages), u(c.oom_deflated_pages), u(c.reported_pages), u(c.total_faults()),
                   format_size(c.host_bytes_released).c_str(), c.inflate_ns_per_page(), c.inflate_cpu_ns_per_page());
}

}  // namespace tide::vmm
