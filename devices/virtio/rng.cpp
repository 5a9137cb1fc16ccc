#include "devices/virtio/rng.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>

#include "guestmm/base/log.hpp"

namespace tide::dev {

Status VirtioRng::host_getrandom(std::span<std::byte> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("getrandom");
    }
    done += static_cast<size_t>(n);
  }
  return ok();
}

VirtioRng::VirtioRng() : VirtioRng(&VirtioRng::host_getrandom) {}

VirtioRng::VirtioRng(EntropySource source) : source_(std::move(source)) {}

Status VirtioRng::activate(const VirtioActivation& activation) {
  if (!activation.memory || !activation.interrupt || activation.queues.size() != 1 || !activation.queues[0]) {
    return make_error(std::errc::invalid_argument, "virtio-rng activated without its queue");
  }
  std::lock_guard lock(mutex_);
  activation_ = activation;
  active_ = true;
  return ok();
}

void VirtioRng::reset() {
  std::lock_guard lock(mutex_);
  active_ = false;
  activation_ = VirtioActivation{};
}

uint32_t VirtioRng::fill(const DescriptorChain& chain) {
  uint64_t budget = kMaxBytesPerChain;
  uint32_t written = 0;
  for (const GuestBuffer& buffer : chain.writable) {
    if (budget == 0) break;
    uint64_t n = std::min<uint64_t>(buffer.len, budget);
    auto range = activation_.memory->host_range(buffer.addr, n);
    if (!range) break;  // the queue checked the buffer; cannot happen
    Status st = source_(*range);
    if (!st) {
      entropy_failures_.fetch_add(1, std::memory_order_relaxed);
      if (!logged_entropy_failure_) {
        logged_entropy_failure_ = true;
        log::warn("virtio-rng: host entropy unavailable: %s", st.error().message().c_str());
      }
      break;
    }
    written += static_cast<uint32_t>(n);
    budget -= n;
  }
  return written;
}

void VirtioRng::queue_notified(uint16_t index) {
  std::lock_guard lock(mutex_);
  if (!active_ || index != 0) return;
  Queue& queue = *activation_.queues[0];
  const gmm::GuestMemory& memory = *activation_.memory;
  while (auto chain = queue.pop(memory)) {
    uint32_t written = fill(*chain);
    queue.add_used(memory, chain->head, written);
    bytes_served_.fetch_add(written, std::memory_order_relaxed);
    chains_served_.fetch_add(1, std::memory_order_relaxed);
  }
  // Malformed chains returned by pop() also count as used entries for the driver.
  if (queue.needs_notification(memory)) activation_.interrupt->notify_queue(0);
}

}  // namespace tide::dev
