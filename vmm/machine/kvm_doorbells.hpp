// KvmDoorbells: tide::dev::DoorbellRegistry on KVM ioeventfd. Each doorbell is an eventfd
// bound to a guest MMIO address; the event loop waits on it and runs the device's callback.
// remove() may be called from any thread, including from inside the callback; once it
// returns the callback does not run again (a per-doorbell lock is held across each call).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "devices/doorbells.hpp"
#include "vmm/kvm/vm_fd.hpp"
#include "vmm/machine/event_loop.hpp"

namespace tide::vmm {

class KvmDoorbells final : public dev::DoorbellRegistry {
 public:
  KvmDoorbells(VmFd& vm, EventLoop& loop) : vm_(vm), loop_(loop) {}
  ~KvmDoorbells() override;

  [[nodiscard]] Result<uint64_t> add(uint64_t gpa, uint32_t len, std::optional<uint64_t> datamatch,
                                     std::function<void()> on_ring) override;
  void remove(uint64_t id) override;

  struct Entry;

 private:
  VmFd& vm_;
  EventLoop& loop_;
  std::mutex mutex_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Entry>> entries_;
};

}  // namespace tide::vmm
