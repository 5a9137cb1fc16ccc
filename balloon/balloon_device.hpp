// BalloonDevice: the Traditional Memory Balloon Device (virtio-v1.2 §5.5, device ID 5) over
// a BalloonBackend. Queues by negotiated features (see queue_layout.hpp): inflateq and
// deflateq always, statsq with F_STATS_VQ, reporting_vq with F_PAGE_REPORTING.
//
// The device keeps its own bitmap of the pages in the balloon, so the balloon's size is
// exact whatever the guest sends: every PFN of a request is checked (RAM, duplicate in the
// request, already in / not in the balloon) before the backend sees it, bad ones are
// counted per kind (BalloonCounters::faults), logged once, skipped; nothing a guest sends
// is fatal. Inflates and deflates are classified (requested, unrequested, migrated, oom)
// by BalloonAccounting.
//
// Config space: num_pages (device-written target) and actual (driver-written); a target
// change raises a config interrupt. Stats: the device holds the driver's stats buffer and
// returns it on request_stats() to ask for fresh figures (the host's timer sets the period).
// Reset (driver reset, guest reboot) returns every ballooned page to the guest.
//
// Backend failures (BalloonBackend: an error changed nothing): a failed inflate leaves its
// pages out of the bitmap, a failed deflate leaves them in; both count kBackendError and
// the chain is returned as usual. Reset empties the bitmap whatever the backend answers.
//
// Threads: queue_notified from the event thread or a vCPU; config access, activate, reset
// from vCPUs; set_target/request_stats/readers from any thread. One mutex serializes
// everything that touches the queues, the bitmap or the backend; the backend and the
// VirtioInterrupt are called with it held (lock order: transport -> device -> interrupt).
// The observer and wait_until's predicate run without it and may call back in.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "balloon/balloon_accounting.hpp"
#include "balloon/balloon_backend.hpp"
#include "balloon/balloon_counters.hpp"
#include "balloon/clock.hpp"
#include "balloon/guest_stats.hpp"
#include "balloon/page_bitmap.hpp"
#include "devices/virtio/virtio_device.hpp"

namespace tide::balloon {

// Which optional features the device offers (the driver may accept fewer).
struct BalloonFeatures {
  bool must_tell_host = true;
  bool stats = true;
  bool deflate_on_oom = false;
  bool reporting = true;
  [[nodiscard]] uint64_t bits() const;
};

struct BalloonDeviceOptions {
  BalloonFeatures features;
  std::string name = "balloon";  // log prefix
  Clock clock = monotonic_ns;
  Clock cpu_clock = thread_cpu_ns;  // the inflate path's CPU cost
  uint16_t queue_size = 256;
  // PFNs read from one inflate/deflate chain at most (Linux sends <= 256); more are
  // counted (kRequestTooLarge) and skipped.
  uint64_t max_pfns_per_request = 4096;
  // Pages of one report chain at most (a 4 MiB+ block is one buffer in Linux).
  uint64_t max_report_pages_per_request = uint64_t{1} << 20;
};

// A consistent view for the API (taken under the device lock).
struct BalloonStatus {
  bool active = false;           // DRIVER_OK and not reset since
  uint64_t negotiated_features = 0;
  uint64_t target_pages = 0;     // num_pages
  uint64_t actual_pages = 0;     // what the driver wrote to `actual`
  uint64_t balloon_pages = 0;    // pages in the device's bitmap
  uint64_t ram_pages = 0;
  std::optional<GuestStats> stats;  // the last stats buffer, if any arrived
  BalloonCounters counters;
};

class BalloonDevice final : public dev::VirtioDevice {
 public:
  BalloonDevice(BalloonBackend& backend, BalloonDeviceOptions options);
  ~BalloonDevice() override;

  // --- VirtioDevice.
  [[nodiscard]] uint32_t device_type() const override;
  [[nodiscard]] uint64_t device_features() const override;
  [[nodiscard]] uint16_t num_queues() const override;
  [[nodiscard]] uint16_t queue_max_size(uint16_t index) const override;
  [[nodiscard]] uint32_t config_size() const override;
  void read_config(uint32_t offset, std::span<uint8_t> data) override;
  void write_config(uint32_t offset, std::span<const uint8_t> data) override;
  [[nodiscard]] Status activate(const dev::VirtioActivation& activation) override;
  void reset() override;
  void queue_notified(uint16_t index) override;

  // --- Control. Thread: any.
  // Sets num_pages (clamped to the guest's RAM pages and to 2^32 - 1); raises a config
  // interrupt if it changed and the driver is active. Returns the target set. The target
  // survives a reset (a rebooted guest's driver reads it at probe).
  // The same, but only if the device's lock is free now (nullopt otherwise): for the
  // memory manager's reclaim thread, which must never wait on a device thread (that thread
  // may itself be waiting, in a guest-memory fault, for the reclaimer).
  [[nodiscard]] std::optional<uint64_t> try_set_target_pages(uint64_t pages);
  [[nodiscard]] std::optional<BalloonStatus> try_status() const;
  uint64_t set_target_pages(uint64_t pages);
  // Counts `pages` the host's memory reclaim asked for by raising the target (the caller
  // raised it with set_target_pages), for BalloonCounters::pressure_asked_pages.
  void count_pressure_request(uint64_t pages) { CounterSet::add(counters_.live.pressure_asked_pages, pages); }
  // Returns the held stats buffer to the driver (asks for fresh stats). False if no
  // buffer is held (no statsq, not active, or the driver has not sent one yet).
  bool request_stats();
  // Called (outside the device lock, on the thread that made the change) after every
  // change of `actual`, the target, the balloon's size, the stats or the activation; for
  // waiters and samplers. It may call the device, but not the transport: config writes,
  // activate and reset reach the device with the transport's register lock held. Set
  // before the guest starts.
  void set_observer(std::function<void()> observer);

  [[nodiscard]] BalloonStatus status() const;
  [[nodiscard]] uint64_t target_pages() const;
  [[nodiscard]] uint64_t actual_pages() const;
  [[nodiscard]] uint64_t balloon_pages() const;
  [[nodiscard]] BalloonCounters counters() const { return counters_.snapshot(); }
  // Blocks until pred(status()) holds or `timeout_ns` (steady clock, not options.clock)
  // passes; returns the last result. pred runs without the device lock.
  bool wait_until(const std::function<bool(const BalloonStatus&)>& pred, uint64_t timeout_ns) const;

  // The bitmap's count is exact; accounting excess within bounds; counters consistent
  // (inflated - deflated - reset == balloon size).
  [[nodiscard]] Status check_invariants() const;
  [[nodiscard]] const BalloonDeviceOptions& options() const { return options_; }

 private:
  struct Impl;  // balloon_device_impl.hpp
  // After a change under the lock: wakes wait_until() and calls the observer, unlocked.
  void finish(std::unique_lock<std::mutex>& lock, bool changed);
  uint64_t set_target_locked(std::unique_lock<std::mutex>& lock, uint64_t pages);
  [[nodiscard]] BalloonStatus status_locked() const;

  BalloonBackend& backend_;
  BalloonDeviceOptions options_;
  CounterSet counters_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::unique_ptr<Impl> impl_;
  std::function<void()> observer_;
};

}  // namespace tide::balloon
