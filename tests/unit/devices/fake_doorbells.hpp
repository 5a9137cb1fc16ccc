// FakeDoorbellRegistry: keeps registered doorbells in a map so tests can list them and
// "ring" one the way KVM's ioeventfd would (exact address and length, optional datamatch),
// calling the callback on the test thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "devices/doorbells.hpp"

namespace tide::dev::test {

class FakeDoorbellRegistry final : public DoorbellRegistry {
 public:
  struct Doorbell {
    uint64_t gpa;
    uint32_t len;
    std::optional<uint64_t> datamatch;
    std::function<void()> on_ring;
  };

  [[nodiscard]] Result<uint64_t> add(uint64_t gpa, uint32_t len, std::optional<uint64_t> datamatch,
                                     std::function<void()> on_ring) override {
    if (fail_adds_) return make_error(std::errc::io_error, "fake: ioeventfd refused");
    for (const auto& [id, d] : doorbells_) {
      if (d.gpa == gpa && d.len == len && d.datamatch == datamatch) {
        return make_error(std::errc::file_exists, "fake: doorbell already registered");
      }
    }
    uint64_t id = next_id_++;
    doorbells_.emplace(id, Doorbell{gpa, len, datamatch, std::move(on_ring)});
    ++adds_;
    return id;
  }
  void remove(uint64_t id) override {
    if (doorbells_.erase(id) == 1) ++removes_;
  }

  // Rings what a guest write of `len` bytes of `value` at `gpa` would ring; returns
  // whether a doorbell caught it.
  bool ring(uint64_t gpa, uint32_t len, uint64_t value) {
    for (auto& [id, d] : doorbells_) {
      if (d.gpa == gpa && d.len == len && (!d.datamatch || *d.datamatch == value)) {
        auto cb = d.on_ring;  // the callback may remove doorbells
        cb();
        return true;
      }
    }
    return false;
  }
  [[nodiscard]] std::vector<uint64_t> addresses() const {
    std::vector<uint64_t> out;
    for (const auto& [id, d] : doorbells_) out.push_back(d.gpa);
    return out;
  }
  [[nodiscard]] size_t size() const { return doorbells_.size(); }
  [[nodiscard]] const std::map<uint64_t, Doorbell>& doorbells() const { return doorbells_; }
  [[nodiscard]] int adds() const { return adds_; }
  [[nodiscard]] int removes() const { return removes_; }
  void fail_adds(bool fail) { fail_adds_ = fail; }

 private:
  std::map<uint64_t, Doorbell> doorbells_;
  uint64_t next_id_ = 1;
  int adds_ = 0;
  int removes_ = 0;
  bool fail_adds_ = false;
};

}  // namespace tide::dev::test
