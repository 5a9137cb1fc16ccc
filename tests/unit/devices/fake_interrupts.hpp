// FakeInterruptController: records what devices do to interrupts. MSI vectors share a
// record (message history, trigger count) that outlives the vector, so tests can check a
// route after its owner is gone. Thread-safe (devices may signal from other threads).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "devices/interrupts.hpp"

namespace tide::dev::test {

struct FakeMsiRecord {
  std::vector<MsiMessage> messages;  // every set_message(), in order
  int triggers = 0;
};

class FakeInterruptController final : public InterruptController {
 public:
  class Vector final : public MsiVector {
   public:
    Vector(FakeInterruptController& owner, size_t index) : owner_(owner), index_(index) {}
    [[nodiscard]] Status set_message(const MsiMessage& message) override {
      std::lock_guard lock(owner_.mutex_);
      if (owner_.fail_set_message_) return make_error(std::errc::io_error, "fake route failure");
      owner_.records_[index_].messages.push_back(message);
      return ok();
    }
    void trigger() override {
      std::lock_guard lock(owner_.mutex_);
      owner_.records_[index_].triggers++;
      owner_.trigger_order_.push_back(index_);
    }

   private:
    FakeInterruptController& owner_;
    size_t index_;
  };

  [[nodiscard]] Result<std::unique_ptr<MsiVector>> allocate_msi() override {
    std::lock_guard lock(mutex_);
    if (allocations_left_ == 0) return make_error(std::errc::no_space_on_device, "fake: no more MSI routes");
    if (allocations_left_ > 0) --allocations_left_;
    records_.emplace_back();
    return std::unique_ptr<MsiVector>(std::make_unique<Vector>(*this, records_.size() - 1));
  }
  void set_irq_line(uint32_t gsi, bool level) override {
    std::lock_guard lock(mutex_);
    line_events_.emplace_back(gsi, level);
  }
  void wake_vcpus() override {
    std::lock_guard lock(mutex_);
    ++wakes_;
  }

  // --- Inspection and knobs.
  [[nodiscard]] size_t msi_count() const {
    std::lock_guard lock(mutex_);
    return records_.size();
  }
  [[nodiscard]] FakeMsiRecord msi(size_t index) const {
    std::lock_guard lock(mutex_);
    return records_.at(index);
  }
  [[nodiscard]] int total_triggers() const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& r : records_) n += r.triggers;
    return n;
  }
  [[nodiscard]] std::vector<std::pair<uint32_t, bool>> line_events() const {
    std::lock_guard lock(mutex_);
    return line_events_;
  }
  // The last level driven on `gsi` (false if never driven).
  [[nodiscard]] bool line_level(uint32_t gsi) const {
    std::lock_guard lock(mutex_);
    for (auto it = line_events_.rbegin(); it != line_events_.rend(); ++it) {
      if (it->first == gsi) return it->second;
    }
    return false;
  }
  [[nodiscard]] int wakes() const {
    std::lock_guard lock(mutex_);
    return wakes_;
  }
  void limit_allocations(int n) {
    std::lock_guard lock(mutex_);
    allocations_left_ = n;
  }
  void fail_set_message(bool fail) {
    std::lock_guard lock(mutex_);
    fail_set_message_ = fail;
  }

 private:
  mutable std::mutex mutex_;
  std::deque<FakeMsiRecord> records_;
  std::vector<size_t> trigger_order_;
  std::vector<std::pair<uint32_t, bool>> line_events_;
  int wakes_ = 0;
  int allocations_left_ = -1;  // -1: unlimited
  bool fail_set_message_ = false;
};

}  // namespace tide::dev::test
