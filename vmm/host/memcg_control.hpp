// MemcgControl: the control plane's side of the memory cgroups (`tide ctl memcg`, the API's
// /api/v1/memcg): names to nodes, a node with (for a guest) its reclaim state, settings
// written all-or-nothing where tide can promise it, groups made and removed. It works on
// the MemoryManager's tree; a guest's own state (OOM policy, swappiness, reclaim figures)
// is reached through `with_guest`, which runs a function on the guest's GuestMm while that
// is sure to stay alive (tide host: under the Guest's lock) and says false when the guest
// has no memory now. Holds no state of its own: make one per request. Thread: any, but
// update() may reclaim (a lowered memory.max) and take a while: not on an event loop.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/memory_manager.hpp"
#include "vmm/machine/machine_memcg.hpp"

namespace tide::vmm {

// What a write asks for; every part optional, applied in the order of MemcgControl::update.
struct MemcgUpdate {
  std::vector<MemcgLimitSetting> limits;
  std::optional<gmm::reclaim::OomPolicy> oom_policy;  // guests only
  std::optional<unsigned> swappiness;                  // guests only, 0..200
  bool reset_peak = false;                             // memory.peak and memory.swap.peak = current
  [[nodiscard]] bool empty() const { return limits.empty() && !oom_policy && !swappiness && !reset_peak; }
};

// A guest's own figures, beside its node.
struct MemcgGuestView {
  gmm::GuestReclaimInfo reclaim;
  gmm::GuestMmStats stats;
};

struct MemcgNodeView {
  gmm::memcg::MemcgSnapshot node;
  std::optional<MemcgGuestView> guest;  // a guest node whose guest has memory now
};

// Runs `fn` on the guest called `name` while its memory is sure to stay; false if it has none.
using WithGuestMemory = std::function<bool(const std::string& name, const std::function<void(gmm::GuestMm&)>& fn)>;

class MemcgControl {
 public:
  MemcgControl(gmm::MemoryManager& memory, WithGuestMemory with_guest)
      : memory_(memory), with_guest_(std::move(with_guest)) {}

  // "/tenant/g1" (a path; "/" is the root) or a name: a guest's, or a group's when only
  // one node has it. Errors: no such node (no_such_file_or_directory), an ambiguous name.
  [[nodiscard]] Result<gmm::memcg::MemcgId> resolve(std::string_view name) const;
  // Every node, parents first, at one instant.
  [[nodiscard]] std::vector<gmm::memcg::MemcgSnapshot> all() const { return memory_.memcg().snapshot_all(); }
  [[nodiscard]] Result<MemcgNodeView> view(gmm::memcg::MemcgId id) const;
  // Checks everything first (a limit the node cannot take, guest settings on a group, an
  // empty update: invalid_argument; nothing changed). Then writes memory.max first — a
  // lower one reclaims, and if usage cannot come under it the tree keeps the old max and
  // device_or_resource_busy says how far it got; nothing else is changed then — then the
  // other limits, the guest's settings, and last the peaks.
  [[nodiscard]] Status update(gmm::memcg::MemcgId id, const MemcgUpdate& update);
  // A new group at `path`, with the missing groups above it. file_exists if it is there.
  [[nodiscard]] Result<gmm::memcg::MemcgId> create_group(std::string_view path);
  // Removes an empty group. A guest's node goes with the guest's memory
  // (operation_not_permitted); a group with children or charges: device_or_resource_busy.
  [[nodiscard]] Status remove_group(gmm::memcg::MemcgId id);

 private:
  gmm::MemoryManager& memory_;
  WithGuestMemory with_guest_;
};

}  // namespace tide::vmm
