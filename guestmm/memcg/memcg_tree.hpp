// MemcgTree: tide's memory cgroups (ARCHITECTURE.md §3 "Memory cgroups"), cgroup-v2 style:
// the root (the host, id 0), optional groups (tenants; they nest, up to kMaxDepth levels)
// and one guest leaf per guest. It owns each node's settings, counters (current, peak,
// swap), events and stats, charges pages hierarchically against every ancestor's max,
// computes protection and reclaim plans, and audits itself. It does not reclaim, throttle
// or kill: it says where and how much, and callers act (one concept: the accounting).
//
// Invariants (check_invariants): every non-leaf's current and swap_current equal the sums
// over its children, so each ancestor's current is exactly the sum over the guests under
// it; peaks >= currents; no counter wrapped below zero; the shape is a tree with unique
// sibling names. Only guests are charged.
//
// Threads and locking: one mutex (`mutex_`) guards all node state; every public function
// takes it, so reads (snapshot, settings, headroom, check_invariants) are consistent at an
// instant. Charges come from the fault thread and hold it for O(depth). Control-plane
// writers (create/remove, set_limit, set_max) also take `control_mutex_` first, which
// serializes them and is held across set_max's reclaim rounds (the tree mutex is not, so
// faults and uncharges go on meanwhile). Lock order: control_mutex_ -> mutex_; limit
// listeners are called with neither held. `mutex_` is innermost: nothing is called out
// while it is held, so the fault path may charge under its extent locks. The reclaimer
// runs under `control_mutex_` and takes extent locks, so shape and settings writers must
// never be called with an extent lock held.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/memcg/limit_listeners.hpp"
#include "guestmm/memcg/memcg_node.hpp"
#include "guestmm/memcg/memcg_protection.hpp"
#include "guestmm/memcg/memcg_reclaimer.hpp"

namespace tide::gmm::memcg {

struct MemcgTreeOptions {
  uint64_t root_max = kUnlimited;     // the host's budget, pages (usually the pool's size)
  bool recursive_protection = false;  // the kernel's memory_recursiveprot mount option
};

struct ChargeResult {
  bool charged = false;
  // Not charged: the lowest node (nearest the guest) whose max the charge would exceed —
  // the node to reclaim under. After charge_force: the lowest node now above its max, if
  // any. Invalid otherwise.
  MemcgId limited_by;
  // Charged: the nodes on the path now above their high, guest first (throttle/reclaim).
  NodeList over_high;
};

struct SwapChargeResult {
  bool charged = false;
  MemcgId limited_by;  // not charged: the lowest node whose swap.max the charge would exceed
};

struct LeafUsage {
  MemcgId id;
  uint64_t current = 0;
};

// Bounds set_max's attempts to get usage under a lowered max: at most this many calls of
// the reclaimer (fewer if a call frees nothing). The kernel retries up to 16 times and then
// OOM-kills; tide gives up sooner and keeps the old limit instead.
inline constexpr unsigned kSetMaxReclaimRounds = 5;

// A valid group or guest name: 1-64 of letters, digits, '-', '_', '.', starting with a
// letter or digit (the same rule as tide's guest names).
[[nodiscard]] bool valid_node_name(std::string_view name);

class MemcgTree {
 public:
  explicit MemcgTree(MemcgTreeOptions options = {});
  MemcgTree(const MemcgTree&) = delete;
  MemcgTree& operator=(const MemcgTree&) = delete;
  ~MemcgTree();

  // ---- Shape (control plane) ----
  // A new group or guest under `parent` (the root or a group). The name must pass
  // valid_node_name and be unique among its siblings. Errors: invalid_argument (name, parent is a guest, too deep),
  // no_such_file_or_directory (parent), file_exists (a sibling has the name).
  [[nodiscard]] Result<MemcgId> create_group(MemcgId parent, std::string_view name);
  [[nodiscard]] Result<MemcgId> create_guest(MemcgId parent, std::string_view name);
  // Removes a node. device_or_resource_busy if it has children or is charged (memory or
  // swap); invalid_argument for the root. The id is never reused.
  [[nodiscard]] Status remove(MemcgId id);

  // "/" is the root, "/tenant/guest" a node. no_such_file_or_directory if absent.
  [[nodiscard]] Result<MemcgId> find_path(std::string_view path) const;
  // The one node called `name` anywhere in the tree; invalid_argument if several are.
  [[nodiscard]] Result<MemcgId> find_name(std::string_view name) const;
  [[nodiscard]] Result<std::string> path(MemcgId id) const;
  [[nodiscard]] bool exists(MemcgId id) const;
  [[nodiscard]] size_t size() const;  // nodes, the root included
  // Every guest under `node` (itself if it is a guest) with its current, in tree order.
  [[nodiscard]] Result<std::vector<LeafUsage>> leaves_under(MemcgId node) const;

  // ---- Settings (control plane) ----
  // Writes high, low, min or swap.max at once, and max when usage is already at or under
  // the new value (device_or_resource_busy otherwise: use set_max with a reclaimer).
  // Raising max, high or swap.max notifies the limit listeners. Errors: validate_limit's,
  // no_such_file_or_directory.
  [[nodiscard]] Status set_limit(MemcgId id, Limit limit, uint64_t pages);
  // Writes max. If usage is above the new value, the new max takes effect at once (charges
  // fail against it) and `reclaimer` is asked for the difference, up to
  // kSetMaxReclaimRounds times, stopping early when a round frees nothing. If usage is still
  // above, the old max is put back (listeners notified) and device_or_resource_busy says
  // how far it got. Unlike the kernel's memory.max write, tide never OOM-kills here.
  [[nodiscard]] Status set_max(MemcgId id, uint64_t pages, Reclaimer& reclaimer);
  [[nodiscard]] Result<MemcgSettings> settings(MemcgId id) const;
  [[nodiscard]] LimitListeners& limit_listeners() { return listeners_; }

  // ---- Charges (fault thread, reclaimers, release paths) ----
  // Charges `pages` to guest `leaf` and every ancestor, or nothing if any would go above
  // its max (a max event at the lowest such node). A node left above its high counts a high
  // event. Errors (nothing charged): not a guest, unknown id, a count beyond kMaxPages.
  [[nodiscard]] Result<ChargeResult> try_charge(MemcgId leaf, uint64_t pages);
  // Charges whatever the limits (a charge that must not fail, e.g. a swap-in of a page the
  // guest already owned). Going above a max counts a max event at the lowest such node and
  // Stat::forced_charges at the guest.
  [[nodiscard]] Result<ChargeResult> charge_force(MemcgId leaf, uint64_t pages);
  // Uncharges `pages` from the guest and its ancestors. More than is charged is an
  // accounting bug: state_not_recoverable, nothing changed.
  [[nodiscard]] Status uncharge(MemcgId leaf, uint64_t pages);
  // Swap slots, charged against swap.max the same way (swap.max event at the limiting
  // node, swap.fail at the guest, on failure).
  [[nodiscard]] Result<SwapChargeResult> try_charge_swap(MemcgId leaf, uint64_t pages);
  [[nodiscard]] Status uncharge_swap(MemcgId leaf, uint64_t pages);
  // Pages the guest could still charge before some max on its path is reached.
  [[nodiscard]] Result<uint64_t> headroom(MemcgId leaf) const;

  // ---- Counters, stats, events (any thread) ----
  // Gauges move up and down (add/sub/set); counters only up (add). Only guests report.
  // Errors: a counter given to sub/set, a gauge going below zero or above kMaxPages.
  [[nodiscard]] Status stat_add(MemcgId leaf, Stat stat, uint64_t n);
  [[nodiscard]] Status stat_sub(MemcgId leaf, Stat stat, uint64_t n);
  [[nodiscard]] Status stat_set(MemcgId leaf, Stat stat, uint64_t value);
  // Counts `n` events at `id` (local) and up to the root (hierarchical): for the OOM
  // bookkeeping and for reclaimers; the tree counts the others itself.
  [[nodiscard]] Status record_event(MemcgId id, Event event, uint64_t n = 1);
  // peak = current (a write to memory.peak).
  [[nodiscard]] Status reset_peak(MemcgId id);
  [[nodiscard]] Status reset_swap_peak(MemcgId id);
  [[nodiscard]] Result<MemcgSnapshot> snapshot(MemcgId id) const;
  // Every node, parents before children, all at one instant.
  [[nodiscard]] std::vector<MemcgSnapshot> snapshot_all() const;

  // ---- Protection and pressure ----
  // Effective min/low of every node under `reclaim_root` (itself first), by the kernel's
  // rule (memcg_protection.hpp).
  [[nodiscard]] Result<std::vector<EffectiveProtection>> effective_protection(MemcgId reclaim_root = kRootId) const;
  // Shares a reclaim goal of `goal` pages among the guests under `reclaim_root`
  // (memcg_protection.hpp: above low first, then low, never min) and counts a low event for
  // each guest whose low protection the plan breaks into. The caller carries it out.
  [[nodiscard]] Result<ReclaimPlan> plan_reclaim(uint64_t goal, MemcgId reclaim_root = kRootId);

  // The whole audit (see the top of this file); the first violation found, with its node.
  [[nodiscard]] Status check_invariants() const;

 private:
  friend struct MemcgTreeTestPeer;  // tests corrupt the tree to see the audit catch it

  [[nodiscard]] Result<MemcgId> create(MemcgId parent, std::string_view name, NodeKind kind);
  [[nodiscard]] Status set_max_locked(std::unique_lock<std::mutex>& control, MemcgId id, uint64_t pages,
                                      Reclaimer* reclaimer);
  [[nodiscard]] Result<Node*> node_locked(MemcgId id) const;
  [[nodiscard]] Result<Node*> leaf_locked(MemcgId id) const;
  // `leaf` and its ancestors, leaf first.
  [[nodiscard]] size_t path_locked(Node* leaf, std::array<Node*, kMaxDepth>& out) const;
  void count_event_locked(Node* node, Event event, uint64_t n);
  // uncharge (memory) and uncharge_swap: one walk, takes the mutex.
  [[nodiscard]] Status uncharge_counter(MemcgId leaf, uint64_t pages, bool memory);
  [[nodiscard]] std::string path_locked(const Node& node) const;
  [[nodiscard]] MemcgSnapshot snapshot_locked(const Node& node) const;
  [[nodiscard]] Result<std::vector<ProtectionInput>> protection_view_locked(MemcgId reclaim_root) const;
  [[nodiscard]] Status check_shape_locked(const Node& node) const;
  [[nodiscard]] Status check_counts_locked(const Node& node) const;

  MemcgTreeOptions options_;
  std::mutex control_mutex_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Node>> nodes_;  // by id; null once removed
  size_t live_ = 0;
  LimitListeners listeners_;
};

}  // namespace tide::gmm::memcg
