#include "vmm/machine/vcpu_waker.hpp"

namespace tide::vmm {

void VcpuWaker::wake() {
  {
    std::lock_guard lock(mutex_);
    ++count_;
  }
  cv_.notify_all();
}

void VcpuWaker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    ++count_;
  }
  cv_.notify_all();
}

bool VcpuWaker::wait(uint32_t vcpu, std::chrono::microseconds timeout) {
  std::unique_lock lock(mutex_);
  uint64_t& seen = last_seen_.at(vcpu);
  bool woken = cv_.wait_for(lock, timeout, [&] { return stopped_ || count_ != seen; });
  seen = count_;
  return woken;
}

uint64_t VcpuWaker::wakes() const {
  std::lock_guard lock(mutex_);
  return count_;
}

}  // namespace tide::vmm
