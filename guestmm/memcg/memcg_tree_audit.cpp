// MemcgTree::check_invariants: the memcg part of the audit (ARCHITECTURE.md "Invariants,
// audited"). The memory manager's audit adds what only it knows: each guest leaf's current
// equals the guest's resident frames.
#include "guestmm/base/log.hpp"
#include "guestmm/memcg/memcg_tree.hpp"

namespace tide::gmm::memcg {

namespace {

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

Status MemcgTree::check_invariants() const {
  std::lock_guard l(mutex_);
  auto broken = [](const std::string& what) { return make_error(std::errc::state_not_recoverable, "memcg audit: " + what); };

  if (nodes_.empty() || !nodes_[0] || nodes_[0]->kind != NodeKind::root || nodes_[0]->parent.valid() ||
      nodes_[0]->depth != 0) {
    return broken("the root is missing or malformed");
  }
  size_t live = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]) continue;
    ++live;
    if (nodes_[i]->id.value() != i) return broken(log::strf("node in slot %zu says it is %u", i, nodes_[i]->id.value()));
  }
  if (live != live_) return broken(log::strf("%zu nodes live, %zu counted", live, live_));
  // The whole shape first: sums over broken links would only point at the wrong node.
  for (const auto& n : nodes_) {
    if (n) TIDE_TRY(check_shape_locked(*n));
  }
  for (const auto& n : nodes_) {
    if (n) TIDE_TRY(check_counts_locked(*n));
  }
  return ok();
}

namespace {

// Nodes are named by id and name: a path walk would trust the links being audited.
Error broken_node(const Node& n, const std::string& what) {
  return make_error(std::errc::state_not_recoverable,
                    log::strf("memcg audit: node %u (%s): ", n.id.value(), n.name.c_str()) + what);
}

}  // namespace

Status MemcgTree::check_shape_locked(const Node& n) const {
  auto broken = [&](const std::string& what) { return broken_node(n, what); };
  if (n.kind == NodeKind::root) {
    if (n.id != kRootId) return broken("a second root");
  } else {
    if (!n.parent.valid() || n.parent.value() >= nodes_.size() || !nodes_[n.parent.value()]) {
      return broken("its parent does not exist");
    }
    const Node& p = *nodes_[n.parent.value()];
    if (p.is_leaf()) return broken("its parent is a guest");
    if (n.depth != p.depth + 1 || n.depth >= kMaxDepth) return broken(log::strf("depth %u under depth %u", n.depth, p.depth));
    size_t listed = 0;
    for (MemcgId c : p.children) listed += c == n.id ? 1 : 0;
    if (listed != 1) return broken(log::strf("listed %zu times among its parent's children", listed));
    if (!valid_node_name(n.name)) return broken("bad name");
    for (MemcgId c : p.children) {
      if (c != n.id && c.value() < nodes_.size() && nodes_[c.value()] && nodes_[c.value()]->name == n.name) {
        return broken("a sibling has the same name");
      }
    }
  }
  if (n.is_leaf() && !n.children.empty()) return broken("a guest with children");
  for (MemcgId c : n.children) {
    if (c.value() >= nodes_.size() || !nodes_[c.value()] || nodes_[c.value()]->parent != n.id) {
      return broken(log::strf("child %u does not point back", c.value()));
    }
  }

  return ok();
}

Status MemcgTree::check_counts_locked(const Node& n) const {
  auto broken = [&](const std::string& what) { return broken_node(n, what); };

  // Settings and counters in range ("negative" values wrap to huge ones).
  for (size_t k = 0; k < kLimitCount; ++k) {
    const auto limit = static_cast<Limit>(k);
    if (!validate_limit(n.kind, limit, n.settings.get(limit))) return broken(std::string("bad ") + limit_name(limit));
  }
  if (n.current > kMaxPages || n.swap_current > kMaxPages) {
    return broken(log::strf("current %llu, swap %llu: below zero or overflowed", ull(n.current), ull(n.swap_current)));
  }
  if (n.peak < n.current) return broken(log::strf("peak %llu below current %llu", ull(n.peak), ull(n.current)));
  if (n.swap_peak < n.swap_current) {
    return broken(log::strf("swap peak %llu below swap current %llu", ull(n.swap_peak), ull(n.swap_current)));
  }
  for (size_t s = 0; s < static_cast<size_t>(kFirstCounter); ++s) {
    if (n.stat.n[s] > kMaxPages) {
      return broken(log::strf("stat %s = %llu: below zero", stat_name(static_cast<Stat>(s)), ull(n.stat.n[s])));
    }
  }

  // Sums over children.
  if (n.is_leaf()) {
    if (n.events != n.events_local) return broken("a guest's events differ from its local events");
    return ok();
  }
  uint64_t current = 0;
  uint64_t swap = 0;
  MemcgStat stat;
  MemcgEvents events = n.events_local;
  for (MemcgId id : n.children) {
    const Node& c = *nodes_[id.value()];
    current += c.current;
    swap += c.swap_current;
    for (size_t s = 0; s < kStatCount; ++s) stat.n[s] += c.stat.n[s];
    for (size_t e = 0; e < kEventCount; ++e) events.n[e] += c.events.n[e];
  }
  if (current != n.current) {
    return broken(log::strf("current %llu, but its children's sum to %llu", ull(n.current), ull(current)));
  }
  if (swap != n.swap_current) {
    return broken(log::strf("swap current %llu, but its children's sum to %llu", ull(n.swap_current), ull(swap)));
  }
  for (size_t s = 0; s < kStatCount; ++s) {
    const bool gauge = is_gauge(static_cast<Stat>(s));
    if (gauge ? n.stat.n[s] != stat.n[s] : n.stat.n[s] < stat.n[s]) {
      return broken(log::strf("stat %s = %llu, children %s %llu", stat_name(static_cast<Stat>(s)), ull(n.stat.n[s]),
                              gauge ? "sum to" : "have more:", ull(stat.n[s])));
    }
  }
  for (size_t e = 0; e < kEventCount; ++e) {
    if (n.events.n[e] < events.n[e]) {
      return broken(log::strf("%s events %llu, fewer than its own and its children's %llu",
                              event_name(static_cast<Event>(e)), ull(n.events.n[e]), ull(events.n[e])));
    }
  }
  return ok();
}

}  // namespace tide::gmm::memcg
