// FaultServer: the dedicated thread ("tide-faults") that serves the userfaultfd faults of
// every guest window. It never blocks on anything a vCPU holds: it takes one extent lock
// per fault, and the pool and cache spin locks. A fault it cannot serve (pool exhausted,
// host failure) is reported through on_error; the faulting thread stays blocked until the
// guest is stopped.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "guestmm/guest_mm.hpp"
#include "guestmm/host/fault_poller.hpp"

namespace tide::gmm {

class FaultServer {
 public:
  using ErrorFn = std::function<void(GuestMm& guest, const Error& error)>;

  [[nodiscard]] static Result<std::unique_ptr<FaultServer>> create(ErrorFn on_error);
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;
  ~FaultServer();

  // Starts serving `guest` (its window must have a fault fd). Thread: any.
  [[nodiscard]] Status add(GuestMm& guest);
  // Stops serving `guest`; when it returns the thread is not inside any of its faults.
  void remove(GuestMm& guest);

  [[nodiscard]] uint64_t faults_served() const { return served_.load(std::memory_order_relaxed); }

 private:
  explicit FaultServer(host::FaultPoller poller, ErrorFn on_error)
      : poller_(std::move(poller)), on_error_(std::move(on_error)) {}
  void run();

  host::FaultPoller poller_;
  ErrorFn on_error_;
  std::mutex mutex_;  // held while serving a batch; add/remove take it
  std::map<uint64_t, GuestMm*> guests_;
  uint64_t next_tag_ = 1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> served_{0};
  std::thread thread_;
};

}  // namespace tide::gmm
