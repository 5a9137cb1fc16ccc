// One node of the memcg tree (its structure, settings, counters, events and stats) and the
// snapshot the tree hands out of it. A Node lives inside MemcgTree and is only touched under
// the tree's lock; a MemcgSnapshot is a copy taken at one instant, safe to keep anywhere.
// Invariants (checked by MemcgTree::check_invariants):
//   - a group's or the root's current and swap_current are the sums over its children;
//     only guests (leaves) are charged
//   - peak >= current, swap_peak >= swap_current, nothing above kMaxPages (a wrapped
//     "negative" would be)
//   - events >= events_local + the children's events; a group's gauges are the sums of its
//     children's, its counters at least those sums (removed children leave theirs behind)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "guestmm/memcg/memcg_events.hpp"
#include "guestmm/memcg/memcg_limits.hpp"
#include "guestmm/memcg/memcg_stat.hpp"
#include "guestmm/memcg/memcg_types.hpp"

namespace tide::gmm::memcg {

struct Node {
  MemcgId id;
  MemcgId parent;  // invalid for the root
  NodeKind kind = NodeKind::guest;
  uint32_t depth = 0;  // root 0
  std::string name;    // unique among siblings; the root's is empty
  std::vector<MemcgId> children;  // in creation order

  MemcgSettings settings;
  uint64_t current = 0;       // pages charged (memory.current)
  uint64_t peak = 0;          // highest current since creation or reset_peak (memory.peak)
  uint64_t swap_current = 0;  // swap slots charged (memory.swap.current)
  uint64_t swap_peak = 0;     // memory.swap.peak
  MemcgEvents events;         // hierarchical
  MemcgEvents events_local;
  MemcgStat stat;             // hierarchical (a guest's own for a leaf)

  [[nodiscard]] bool is_leaf() const { return kind == NodeKind::guest; }
};

struct MemcgSnapshot {
  MemcgId id;
  MemcgId parent;
  NodeKind kind = NodeKind::guest;
  uint32_t depth = 0;
  std::string name;
  std::string path;  // "/" for the root, else "/tenant/guest"
  std::vector<MemcgId> children;
  MemcgSettings settings;
  uint64_t current = 0;
  uint64_t peak = 0;
  uint64_t swap_current = 0;
  uint64_t swap_peak = 0;
  MemcgEvents events;
  MemcgEvents events_local;
  MemcgStat stat;
};

}  // namespace tide::gmm::memcg
