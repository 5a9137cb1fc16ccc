// GuestManager: the heart of `tide host` — many guests over one frame pool (one
// MemoryManager with its fault server and scrubber), each a Guest. Thread-safe: the map of
// guests is guarded by one mutex that is never held across a guest's lifecycle operation,
// so a slow boot or stop of one guest does not stall calls about the others.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guestmm/host/linux_host_memory.hpp"
#include "guestmm/memory_manager.hpp"
#include "vmm/config/guest_config.hpp"
#include "vmm/host/guest.hpp"
#include "vmm/kvm/system.hpp"
#include "vmm/machine/event_loop.hpp"

namespace tide::vmm {

struct HostOptions {
  uint64_t pool_bytes = 0;      // 0: the host's physical memory
  uint64_t hot_frames = 0;
  std::string default_kernel;   // tideguest
  size_t max_guests = 256;
};

class GuestManager {
 public:
  [[nodiscard]] static Result<std::unique_ptr<GuestManager>> create(const HostOptions& options, EventLoop& events);
  GuestManager(const GuestManager&) = delete;
  GuestManager& operator=(const GuestManager&) = delete;
  // Stops every guest; their memory returns to the pool.
  ~GuestManager();

  // Defines a guest (state created). Errors: invalid or duplicate name, bad sizes,
  // too many guests (errc codes the API maps to HTTP statuses).
  [[nodiscard]] Result<GuestInfo> define(GuestConfig config);
  [[nodiscard]] Status boot(const std::string& name);
  [[nodiscard]] Status pause(const std::string& name);
  [[nodiscard]] Status resume(const std::string& name);
  [[nodiscard]] Status stop(const std::string& name);
  [[nodiscard]] Status reboot(const std::string& name);
  // Stops it if needed and forgets it.
  [[nodiscard]] Status remove(const std::string& name);

  [[nodiscard]] Result<GuestInfo> info(const std::string& name) const;
  // Guest::set_balloon.
  [[nodiscard]] Result<uint64_t> set_balloon(const std::string& name, uint64_t bytes);
  [[nodiscard]] Status set_balloon_auto(const std::string& name, std::optional<BalloonAutoOptions> options);
  [[nodiscard]] std::vector<GuestInfo> list() const;
  [[nodiscard]] Result<std::string> console(const std::string& name, uint64_t from, uint64_t* next) const;

  [[nodiscard]] gmm::PoolStats pool_stats() const { return memory_->stats(); }
  // The memory manager (its memcg tree, for the control API). Thread: any.
  [[nodiscard]] gmm::MemoryManager& memory() { return *memory_; }
  // Guest::with_memory of the guest called `name`; false if there is none or it has no memory.
  bool with_guest_memory(const std::string& name, const std::function<void(gmm::GuestMm&)>& fn) const;
  [[nodiscard]] Status audit() const { return memory_->check_invariants(); }
  [[nodiscard]] HostKind host_kind() const { return host_kind_; }
  [[nodiscard]] const HostOptions& options() const { return options_; }

  // Accepted guest names: letters, digits, '-', '_', '.', at most 64, starting with a letter or digit.
  [[nodiscard]] static bool valid_name(const std::string& name);

 private:
  GuestManager() = default;
  [[nodiscard]] Result<std::shared_ptr<Guest>> find(const std::string& name) const;
  void on_fault_error(gmm::GuestMm& mm, const Error& error);

  HostOptions options_;
  std::unique_ptr<KvmSystem> kvm_;
  HostKind host_kind_ = HostKind::hardware;
  gmm::host::LinuxHostMemory host_;
  std::unique_ptr<gmm::MemoryManager> memory_;
  EventLoop* events_ = nullptr;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Guest>> guests_;
};

}  // namespace tide::vmm
