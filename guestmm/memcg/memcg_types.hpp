// Vocabulary of the memcg tree (ARCHITECTURE.md §3 "Memory cgroups"), shared by every file
// of this folder:
//   MemcgId     a node's id: a small integer, stable for the node's life and never reused,
//               so a guest may keep its leaf's id and a stale id can only fail to resolve
//   NodeKind    root (the host), group (a tenant; groups nest), guest (a leaf, one per guest)
//   pages       every amount is in 4 KiB pages; byte helpers are in memcg_limits.hpp
//   kUnlimited  cgroup v2's "max": no limit (the default of max, high and swap.max)
//   NodeList    at most kMaxDepth ids (a charge's path): fixed capacity, no allocation
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>

#include "guestmm/types.hpp"

namespace tide::gmm::memcg {

class MemcgId {
 public:
  static constexpr uint32_t kInvalidValue = UINT32_MAX;

  constexpr MemcgId() = default;
  constexpr explicit MemcgId(uint32_t v) : v_(v) {}
  [[nodiscard]] constexpr uint32_t value() const { return v_; }
  [[nodiscard]] constexpr bool valid() const { return v_ != kInvalidValue; }
  constexpr auto operator<=>(const MemcgId&) const = default;

 private:
  uint32_t v_ = kInvalidValue;
};

// The root (the host) always exists and always has id 0.
inline constexpr MemcgId kRootId{0};

enum class NodeKind : uint8_t { root, group, guest };

[[nodiscard]] constexpr const char* kind_name(NodeKind k) {
  switch (k) {
    case NodeKind::root: return "root";
    case NodeKind::group: return "group";
    case NodeKind::guest: return "guest";
  }
  return "?";
}

// The largest amount a setting or counter may hold: its size in bytes still fits in 64
// bits. It doubles as "max" (the kernel's PAGE_COUNTER_MAX plays the same two roles).
inline constexpr uint64_t kMaxPages = UINT64_MAX >> kPageShift;
inline constexpr uint64_t kUnlimited = kMaxPages;

// Depth limit: the root is at depth 0, so a path holds at most kMaxDepth nodes. Tenant
// trees are shallow; the bound lets a charge carry its path in a fixed array.
inline constexpr size_t kMaxDepth = 8;

// A short list of node ids (a charge's path, leaf first).
class NodeList {
 public:
  void push(MemcgId id) {
    if (n_ < ids_.size()) ids_[n_++] = id;
  }
  [[nodiscard]] size_t size() const { return n_; }
  [[nodiscard]] bool empty() const { return n_ == 0; }
  [[nodiscard]] MemcgId operator[](size_t i) const { return ids_[i]; }
  [[nodiscard]] const MemcgId* begin() const { return ids_.data(); }
  [[nodiscard]] const MemcgId* end() const { return ids_.data() + n_; }
  [[nodiscard]] bool contains(MemcgId id) const {
    for (MemcgId x : *this) {
      if (x == id) return true;
    }
    return false;
  }

 private:
  std::array<MemcgId, kMaxDepth> ids_{};
  size_t n_ = 0;
};

}  // namespace tide::gmm::memcg
