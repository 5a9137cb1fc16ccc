// VirtioRng: the virtio entropy device (virtio-v1.2 §5.4, device ID 4): one request queue;
// the device fills each chain's device-writable buffers with bytes from the host's
// getrandom(2) and returns the count. Rate bound: at most kMaxBytesPerChain bytes per
// chain, whatever the buffers' size. No feature bits, no config space.
// Locking: one mutex guards the activation state and serializes queue processing
// (queue_notified from the event thread or a vCPU; activate/reset from a vCPU).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <span>

#include "devices/virtio/virtio_device.hpp"

namespace tide::dev {

class VirtioRng final : public VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint64_t kMaxBytesPerChain = 64 * 1024;

  // Fills `out` completely with random bytes or fails.
  using EntropySource = std::function<Status(std::span<std::byte> out)>;

  // Uses getrandom(2) (blocking only until the host pool is initialized, i.e. never on a
  // booted host).
  VirtioRng();
  // A replacement source, for tests.
  explicit VirtioRng(EntropySource source);

  [[nodiscard]] uint32_t device_type() const override { return VIRTIO_ID_RNG; }
  [[nodiscard]] uint64_t device_features() const override { return 0; }
  [[nodiscard]] uint16_t num_queues() const override { return 1; }
  [[nodiscard]] uint16_t queue_max_size(uint16_t) const override { return kQueueSize; }
  [[nodiscard]] Status activate(const VirtioActivation& activation) override;
  void reset() override;
  void queue_notified(uint16_t index) override;

  // Metrics. Thread: any.
  [[nodiscard]] uint64_t bytes_served() const { return bytes_served_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t chains_served() const { return chains_served_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t entropy_failures() const { return entropy_failures_.load(std::memory_order_relaxed); }

  // getrandom(2) into `out`, retrying on EINTR and short reads.
  [[nodiscard]] static Status host_getrandom(std::span<std::byte> out);

 private:
  // Fills the chain's writable buffers (up to the bound); returns the bytes written.
  uint32_t fill(const DescriptorChain& chain);

  std::mutex mutex_;
  EntropySource source_;
  bool active_ = false;
  VirtioActivation activation_;
  std::atomic<uint64_t> bytes_served_{0};
  std::atomic<uint64_t> chains_served_{0};
  std::atomic<uint64_t> entropy_failures_{0};
  bool logged_entropy_failure_ = false;
};

}  // namespace tide::dev
