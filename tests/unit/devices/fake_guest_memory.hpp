// FakeGuestMemory: guest RAM for device tests, backed by std::vector<std::byte> regions
// and exposed through the real gmm::GuestMemory accessor (so every device access in a
// test takes the same checked path as in the VMM). Tests poke and peek raw bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "guestmm/guest_memory.hpp"

namespace tide::dev::test {

class FakeGuestMemory {
 public:
  // (base, size) pairs; defaults to 1 MiB of RAM at GPA 0.
  explicit FakeGuestMemory(std::vector<std::pair<uint64_t, uint64_t>> layout = {{0, 1u << 20}}) {
    std::vector<gmm::MemoryRegion> regions;
    backing_.reserve(layout.size());
    for (auto [base, size] : layout) {
      backing_.emplace_back(size, std::byte{0});
      regions.push_back(gmm::MemoryRegion{gmm::Gpa(base), size, backing_.back().data()});
      bases_.push_back(base);
    }
    memory_ = gmm::GuestMemory(std::move(regions));
  }
  FakeGuestMemory(const FakeGuestMemory&) = delete;
  FakeGuestMemory& operator=(const FakeGuestMemory&) = delete;

  [[nodiscard]] const gmm::GuestMemory& memory() const { return memory_; }

  // Raw host bytes of [gpa, gpa+len); the range must lie in one region (test bug otherwise).
  [[nodiscard]] std::span<std::byte> bytes(uint64_t gpa, size_t len) {
    for (size_t i = 0; i < backing_.size(); ++i) {
      if (gpa >= bases_[i] && gpa + len <= bases_[i] + backing_[i].size()) {
        return std::span<std::byte>(backing_[i].data() + (gpa - bases_[i]), len);
      }
    }
    std::abort();
  }

  template <class T>
  void put(uint64_t gpa, const T& value) {
    std::memcpy(bytes(gpa, sizeof(T)).data(), &value, sizeof(T));
  }
  template <class T>
  [[nodiscard]] T get(uint64_t gpa) {
    T value{};
    std::memcpy(&value, bytes(gpa, sizeof(T)).data(), sizeof(T));
    return value;
  }

 private:
  std::vector<std::vector<std::byte>> backing_;
  std::vector<uint64_t> bases_;
  gmm::GuestMemory memory_;
};

}  // namespace tide::dev::test
