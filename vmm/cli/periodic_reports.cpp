#include "vmm/cli/periodic_reports.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <cstdio>
#include <future>

#include "guestmm/base/log.hpp"
#include "vmm/cli/memory_report.hpp"

namespace tide::vmm {
namespace {

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

PeriodicReports::PeriodicReports(EventLoop& events, gmm::MemoryManager* manager, gmm::GuestMm* guest, double stats_s,
                                 double audit_s)
    : events_(events), manager_(manager), guest_(guest), stats_s_(stats_s), audit_s_(audit_s),
      stats_timer_(events.context()), audit_timer_(events.context()) {
  boost::asio::post(events_.context(), [this] {
    if (stats_s_ > 0) arm_stats();
    if (audit_s_ > 0 && manager_) arm_audit();
  });
}

PeriodicReports::~PeriodicReports() { finish(); }

void PeriodicReports::print_stats() const {
  // Asked for: printed whatever the log level.
  if (guest_) std::fprintf(stderr, "tide: stats: %s\n", guest_memory_line(*guest_).c_str());
  if (manager_) std::fprintf(stderr, "tide: stats: %s\n", pool_line(manager_->stats()).c_str());
}

bool PeriodicReports::audit() const {
  auto st = manager_->check_invariants();
  if (!st) {
    audit_failed_.store(true);
    log::error("audit: %s", st.error().message().c_str());
    return false;
  }
  log::debug("audit: clean");
  return true;
}

void PeriodicReports::arm_stats() {
  stats_timer_.expires_after(seconds(stats_s_));
  stats_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    print_stats();
    arm_stats();
  });
}

void PeriodicReports::arm_audit() {
  audit_timer_.expires_after(seconds(audit_s_));
  audit_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    audit();
    arm_audit();
  });
}

bool PeriodicReports::finish() {
  if (finished_) return audit_failed_.load();
  finished_ = true;
  // The timers belong to the loop thread: cancel them there and wait.
  std::promise<void> done;
  boost::asio::post(events_.context(), [this, &done] {
    stats_timer_.cancel();
    audit_timer_.cancel();
    done.set_value();
  });
  done.get_future().wait();
  if (stats_s_ > 0) print_stats();
  if (audit_s_ > 0 && manager_) {
    if (audit()) std::fprintf(stderr, "tide: audit: clean\n");
  }
  return audit_failed_.load();
}

}  // namespace tide::vmm
