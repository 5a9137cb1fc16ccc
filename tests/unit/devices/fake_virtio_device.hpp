// FakeVirtioDevice: a VirtioDevice core that records what the transport does to it
// (activations, resets, notifications, config accesses) and can be told to fail.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "devices/virtio/virtio_device.hpp"

namespace tide::dev::test {

class FakeVirtioDevice final : public VirtioDevice {
 public:
  FakeVirtioDevice(uint32_t type, uint64_t features, uint16_t queues, uint16_t max_size, uint32_t config_bytes = 0)
      : type_(type), features_(features), queues_(queues), max_size_(max_size), config_(config_bytes) {
    for (size_t i = 0; i < config_.size(); ++i) config_[i] = static_cast<uint8_t>(0xc0 + i);
  }

  [[nodiscard]] uint32_t device_type() const override { return type_; }
  [[nodiscard]] uint64_t device_features() const override { return features_; }
  [[nodiscard]] uint16_t num_queues() const override { return queues_; }
  [[nodiscard]] uint16_t queue_max_size(uint16_t) const override { return max_size_; }
  [[nodiscard]] uint32_t config_size() const override { return static_cast<uint32_t>(config_.size()); }
  void read_config(uint32_t offset, std::span<uint8_t> data) override {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) data[i] = config_.at(offset + i);
  }
  void write_config(uint32_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) config_.at(offset + i) = data[i];
  }
  [[nodiscard]] Status activate(const VirtioActivation& activation) override {
    std::lock_guard lock(mutex_);
    if (fail_activation_) return make_error(std::errc::io_error, "fake activation failure");
    activation_ = activation;
    active_ = true;
    ++activations_;
    return ok();
  }
  void reset() override {
    std::lock_guard lock(mutex_);
    active_ = false;
    activation_ = VirtioActivation{};
    ++resets_;
  }
  void queue_notified(uint16_t index) override {
    std::lock_guard lock(mutex_);
    notified_.push_back(index);
  }

  // Raise an interrupt the way a device does once it has used buffers.
  void interrupt_queue(uint16_t index) { activation_.interrupt->notify_queue(index); }
  void interrupt_config() { activation_.interrupt->notify_config(); }

  void fail_activation(bool fail) { fail_activation_ = fail; }
  [[nodiscard]] bool active() const { return active_; }
  [[nodiscard]] int activations() const { return activations_; }
  [[nodiscard]] int resets() const { return resets_; }
  [[nodiscard]] const VirtioActivation& activation() const { return activation_; }
  [[nodiscard]] std::vector<uint16_t> notified() const {
    std::lock_guard lock(mutex_);
    return notified_;
  }
  void clear_notified() {
    std::lock_guard lock(mutex_);
    notified_.clear();
  }
  [[nodiscard]] const std::vector<uint8_t>& config() const { return config_; }

 private:
  mutable std::mutex mutex_;
  uint32_t type_;
  uint64_t features_;
  uint16_t queues_;
  uint16_t max_size_;
  std::vector<uint8_t> config_;
  bool fail_activation_ = false;
  bool active_ = false;
  int activations_ = 0;
  int resets_ = 0;
  VirtioActivation activation_;
  std::vector<uint16_t> notified_;
};

}  // namespace tide::dev::test
