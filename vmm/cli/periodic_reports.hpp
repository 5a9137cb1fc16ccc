// PeriodicReports: timers on the event loop for `tide run --stats-interval` (print the
// guest's memory figures and the pool's) and `--audit-interval` (run the memory manager's
// audit); finish() prints/audits once more at exit and cancels the timers.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>

#include "guestmm/guest_mm.hpp"
#include "guestmm/memory_manager.hpp"
#include "vmm/machine/event_loop.hpp"

namespace tide::vmm {

class PeriodicReports {
 public:
  // Intervals in seconds; 0 disables. `manager`/`guest` may be null (flat backend).
  PeriodicReports(EventLoop& events, gmm::MemoryManager* manager, gmm::GuestMm* guest, double stats_s,
                  double audit_s);
  ~PeriodicReports();
  // Final report and audit; returns true if any audit failed. Thread: the owner.
  bool finish();

 private:
  void print_stats() const;
  bool audit() const;
  void arm_stats();
  void arm_audit();

  EventLoop& events_;
  gmm::MemoryManager* manager_;
  gmm::GuestMm* guest_;
  double stats_s_, audit_s_;
  boost::asio::steady_timer stats_timer_, audit_timer_;
  mutable std::atomic<bool> audit_failed_{false};
  bool finished_ = false;
};

}  // namespace tide::vmm
