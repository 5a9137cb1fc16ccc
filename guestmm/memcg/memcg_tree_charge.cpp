// MemcgTree: charges, stats and events — the fault path's part. Each call holds the tree
// mutex for one walk up the guest's path (at most kMaxDepth nodes) and never allocates.
#include <algorithm>
#include <span>

#include "guestmm/base/log.hpp"
#include "guestmm/memcg/memcg_tree.hpp"

namespace tide::gmm::memcg {

namespace {

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

Error too_large(const char* what, uint64_t n) {
  return make_error(std::errc::value_too_large,
                    log::strf("%s of %llu pages would take a counter beyond %llu pages", what, ull(n), ull(kMaxPages)));
}

// The two counters a node is charged on, memory and swap: try_charge and try_charge_swap
// (and the uncharges) are the same walk up the path over a different counter.
struct Counter {
  uint64_t Node::*current;
  uint64_t Node::*peak;
  uint64_t MemcgSettings::*limit;
  const char* charge;    // for messages: "a charge"
  const char* uncharge;  // "uncharge"
};
constexpr Counter kMemory{&Node::current, &Node::peak, &MemcgSettings::max, "a charge", "uncharge"};
constexpr Counter kSwap{&Node::swap_current, &Node::swap_peak, &MemcgSettings::swap_max, "a swap charge",
                        "swap uncharge"};

// Adds `pages` to `c` on every node of `path`, or to none: a counter that would pass
// kMaxPages is an error; the first node whose limit the charge would pass is returned
// (nothing charged). nullptr: charged everywhere.
Result<Node*> add_on_path(std::span<Node* const> path, uint64_t pages, const Counter& c) {
  // Check every level before touching any, so a refused charge leaves nothing behind.
  for (Node* n : path) {
    if (pages > kMaxPages - n->*c.current) return too_large(c.charge, pages);
  }
  for (Node* n : path) {
    if (n->*c.current + pages > n->settings.*c.limit) return n;
  }
  for (Node* n : path) {
    n->*c.current += pages;
    n->*c.peak = std::max(n->*c.peak, n->*c.current);
  }
  return nullptr;
}

// Takes `pages` off `c` on every node of `path`, or off none: the first node holding
// fewer is returned (an accounting bug). nullptr: done.
Node* sub_on_path(std::span<Node* const> path, uint64_t pages, const Counter& c) {
  for (Node* n : path) {
    if (n->*c.current < pages) return n;
  }
  for (Node* n : path) n->*c.current -= pages;
  return nullptr;
}

}  // namespace

void MemcgTree::count_event_locked(Node* node, Event event, uint64_t n) {
  node->events_local[event] += n;
  for (Node* c = node; c != nullptr; c = c->parent.valid() ? nodes_[c->parent.value()].get() : nullptr) {
    c->events[event] += n;
  }
}

Result<ChargeResult> MemcgTree::try_charge(MemcgId leaf, uint64_t pages) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, leaf_locked(leaf));
  ChargeResult r;
  if (pages == 0) {
    r.charged = true;
    return r;
  }
  std::array<Node*, kMaxDepth> path{};
  const std::span<Node* const> nodes(path.data(), path_locked(node, path));
  TIDE_TRY_ASSIGN(limited, add_on_path(nodes, pages, kMemory));
  if (limited != nullptr) {
    count_event_locked(limited, Event::max, 1);
    r.limited_by = limited->id;
    return r;
  }
  for (Node* c : nodes) {
    if (c->current > c->settings.high) r.over_high.push(c->id);
  }
  for (MemcgId id : r.over_high) count_event_locked(nodes_[id.value()].get(), Event::high, 1);
  r.charged = true;
  return r;
}

Result<ChargeResult> MemcgTree::charge_force(MemcgId leaf, uint64_t pages) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, leaf_locked(leaf));
  ChargeResult r;
  r.charged = true;
  if (pages == 0) return r;
  std::array<Node*, kMaxDepth> path{};
  const size_t n = path_locked(node, path);
  for (size_t i = 0; i < n; ++i) {
    if (pages > kMaxPages - path[i]->current) return too_large("a forced charge", pages);
  }
  for (size_t i = 0; i < n; ++i) {
    Node* c = path[i];
    c->current += pages;
    c->peak = std::max(c->peak, c->current);
    if (!r.limited_by.valid() && c->current > c->settings.max) r.limited_by = c->id;
    if (c->current > c->settings.high) r.over_high.push(c->id);
  }
  if (r.limited_by.valid()) {
    count_event_locked(nodes_[r.limited_by.value()].get(), Event::max, 1);
    for (size_t i = 0; i < n; ++i) path[i]->stat[Stat::forced_charges] += 1;
  }
  for (MemcgId id : r.over_high) count_event_locked(nodes_[id.value()].get(), Event::high, 1);
  return r;
}

Status MemcgTree::uncharge(MemcgId leaf, uint64_t pages) { return uncharge_counter(leaf, pages, true); }

Result<SwapChargeResult> MemcgTree::try_charge_swap(MemcgId leaf, uint64_t pages) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, leaf_locked(leaf));
  SwapChargeResult r;
  if (pages == 0) {
    r.charged = true;
    return r;
  }
  std::array<Node*, kMaxDepth> path{};
  const std::span<Node* const> nodes(path.data(), path_locked(node, path));
  TIDE_TRY_ASSIGN(limited, add_on_path(nodes, pages, kSwap));
  if (limited != nullptr) {
    count_event_locked(limited, Event::swap_max, 1);
    count_event_locked(node, Event::swap_fail, 1);
    r.limited_by = limited->id;
    return r;
  }
  r.charged = true;
  return r;
}

Status MemcgTree::uncharge_swap(MemcgId leaf, uint64_t pages) { return uncharge_counter(leaf, pages, false); }

Status MemcgTree::uncharge_counter(MemcgId leaf, uint64_t pages, bool memory) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, leaf_locked(leaf));
  const Counter& c = memory ? kMemory : kSwap;
  std::array<Node*, kMaxDepth> path{};
  if (Node* short_node = sub_on_path(std::span<Node* const>(path.data(), path_locked(node, path)), pages, c)) {
    return make_error(std::errc::state_not_recoverable,
                      log::strf("%s of %llu pages from %s, which has %llu charged: accounting bug", c.uncharge, ull(pages),
                                path_locked(*short_node).c_str(), ull(short_node->*c.current)));
  }
  return ok();
}

Result<uint64_t> MemcgTree::headroom(MemcgId leaf) const {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, leaf_locked(leaf));
  std::array<Node*, kMaxDepth> path{};
  const size_t n = path_locked(node, path);
  uint64_t room = kMaxPages;
  for (size_t i = 0; i < n; ++i) {
    const Node* c = path[i];
    room = std::min(room, c->settings.max > c->current ? c->settings.max - c->current : 0);
  }
  return room;
}

// ---- stats and events ----

Status MemcgTree::stat_add(MemcgId leaf, Stat stat, uint64_t n) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, leaf_locked(leaf));
  std::array<Node*, kMaxDepth> path{};
  const size_t depth = path_locked(node, path);
  const uint64_t ceiling = is_gauge(stat) ? kMaxPages : UINT64_MAX;
  for (size_t i = 0; i < depth; ++i) {
    if (n > ceiling - path[i]->stat[stat]) {
      return make_error(std::errc::value_too_large,
                        log::strf("stat %s of %s: adding %llu overflows", stat_name(stat),
                                  path_locked(*path[i]).c_str(), ull(n)));
    }
  }
  for (size_t i = 0; i < depth; ++i) path[i]->stat[stat] += n;
  return ok();
}

Status MemcgTree::stat_sub(MemcgId leaf, Stat stat, uint64_t n) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, leaf_locked(leaf));
  if (!is_gauge(stat)) {
    return make_error(std::errc::invalid_argument,
                      log::strf("stat %s is a counter: it only goes up", stat_name(stat)));
  }
  std::array<Node*, kMaxDepth> path{};
  const size_t depth = path_locked(node, path);
  for (size_t i = 0; i < depth; ++i) {
    if (path[i]->stat[stat] < n) {
      return make_error(std::errc::state_not_recoverable,
                        log::strf("stat %s of %s: taking %llu from %llu: accounting bug", stat_name(stat),
                                  path_locked(*path[i]).c_str(), ull(n), ull(path[i]->stat[stat])));
    }
  }
  for (size_t i = 0; i < depth; ++i) path[i]->stat[stat] -= n;
  return ok();
}

Status MemcgTree::stat_set(MemcgId leaf, Stat stat, uint64_t value) {
  if (!is_gauge(stat)) {
    return make_error(std::errc::invalid_argument,
                      log::strf("stat %s is a counter: use stat_add", stat_name(stat)));
  }
  if (value > kMaxPages) return too_large("a stat", value);
  uint64_t old = 0;
  {
    std::lock_guard l(mutex_);
    TIDE_TRY_ASSIGN(node, leaf_locked(leaf));
    std::array<Node*, kMaxDepth> path{};
    const size_t depth = path_locked(node, path);
    old = node->stat[stat];
    // Ancestors hold at least the leaf's value (they sum it), so neither direction can
    // wrap; an ancestor may only overflow kMaxPages when raising.
    for (size_t i = 0; i < depth && value > old; ++i) {
      if (value - old > kMaxPages - path[i]->stat[stat]) return too_large("a stat", value);
    }
    for (size_t i = 0; i < depth; ++i) path[i]->stat[stat] = path[i]->stat[stat] - old + value;
  }
  return ok();
}

Status MemcgTree::record_event(MemcgId id, Event event, uint64_t n) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, node_locked(id));
  count_event_locked(node, event, n);
  return ok();
}

Status MemcgTree::reset_peak(MemcgId id) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, node_locked(id));
  node->peak = node->current;
  return ok();
}

Status MemcgTree::reset_swap_peak(MemcgId id) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, node_locked(id));
  node->swap_peak = node->swap_current;
  return ok();
}

}  // namespace tide::gmm::memcg
