// MemcgTree: shape, lookup, settings, snapshots and protection (charges are in
// memcg_tree_charge.cpp, the audit in memcg_tree_audit.cpp).
#include "guestmm/memcg/memcg_tree.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "guestmm/base/log.hpp"

namespace tide::gmm::memcg {

namespace {

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

bool raises_room(Limit limit) { return limit == Limit::max || limit == Limit::high || limit == Limit::swap_max; }

}  // namespace

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

MemcgTree::MemcgTree(MemcgTreeOptions options) : options_(options) {
  auto root = std::make_unique<Node>();
  root->id = kRootId;
  root->kind = NodeKind::root;
  root->settings.max = std::min(options.root_max, kUnlimited);
  nodes_.push_back(std::move(root));
  live_ = 1;
}

MemcgTree::~MemcgTree() = default;

// ---- lookups ----

Result<Node*> MemcgTree::node_locked(MemcgId id) const {
  if (!id.valid() || id.value() >= nodes_.size() || !nodes_[id.value()]) {
    return make_error(std::errc::no_such_file_or_directory,
                      log::strf("memcg %u does not exist (removed, or never created)", id.value()));
  }
  return nodes_[id.value()].get();
}

Result<Node*> MemcgTree::leaf_locked(MemcgId id) const {
  TIDE_TRY_ASSIGN(node, node_locked(id));
  if (!node->is_leaf()) {
    return make_error(std::errc::invalid_argument, "memcg " + path_locked(*node) + " is the " +
                                                       kind_name(node->kind) + ": only guests are charged");
  }
  return node;
}

size_t MemcgTree::path_locked(Node* leaf, std::array<Node*, kMaxDepth>& out) const {
  size_t n = 0;
  for (Node* c = leaf; c != nullptr && n < kMaxDepth;) {
    out[n++] = c;
    c = c->parent.valid() ? nodes_[c->parent.value()].get() : nullptr;
  }
  return n;
}

std::string MemcgTree::path_locked(const Node& node) const {
  if (node.kind == NodeKind::root) return "/";
  std::vector<const std::string*> names;
  for (const Node* c = &node; c->parent.valid(); c = nodes_[c->parent.value()].get()) names.push_back(&c->name);
  std::string p;
  for (auto it = names.rbegin(); it != names.rend(); ++it) p += "/" + **it;
  return p;
}

bool MemcgTree::exists(MemcgId id) const {
  std::lock_guard l(mutex_);
  return node_locked(id).has_value();
}

size_t MemcgTree::size() const {
  std::lock_guard l(mutex_);
  return live_;
}

Result<std::string> MemcgTree::path(MemcgId id) const {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, node_locked(id));
  return path_locked(*node);
}

Result<MemcgId> MemcgTree::find_path(std::string_view path) const {
  std::lock_guard l(mutex_);
  if (path.empty() || path.front() != '/') {
    return make_error(std::errc::invalid_argument, "memcg path '" + std::string(path) + "' must start with '/'");
  }
  const Node* at = nodes_[0].get();
  std::string_view rest = path.substr(1);
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (part.empty()) {
      if (rest.empty()) break;  // one trailing '/'
      return make_error(std::errc::invalid_argument, "memcg path '" + std::string(path) + "' has an empty name");
    }
    const Node* next = nullptr;
    for (MemcgId c : at->children) {
      if (nodes_[c.value()]->name == part) next = nodes_[c.value()].get();
    }
    if (next == nullptr) {
      return make_error(std::errc::no_such_file_or_directory, "no memcg at '" + std::string(path) + "'");
    }
    at = next;
  }
  return at->id;
}

Result<MemcgId> MemcgTree::find_name(std::string_view name) const {
  std::lock_guard l(mutex_);
  MemcgId found;
  size_t matches = 0;
  for (const auto& n : nodes_) {
    if (n && n->kind != NodeKind::root && n->name == name) {
      found = n->id;
      ++matches;
    }
  }
  if (matches == 0) {
    return make_error(std::errc::no_such_file_or_directory, "no memcg called '" + std::string(name) + "'");
  }
  if (matches > 1) {
    return make_error(std::errc::invalid_argument,
                      log::strf("%zu memcgs are called '%s'; give the path", matches, std::string(name).c_str()));
  }
  return found;
}

Result<std::vector<LeafUsage>> MemcgTree::leaves_under(MemcgId id) const {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(top, node_locked(id));
  std::vector<LeafUsage> out;
  std::vector<const Node*> stack{top};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (n->is_leaf()) out.push_back(LeafUsage{n->id, n->current});
    for (auto it = n->children.rbegin(); it != n->children.rend(); ++it) stack.push_back(nodes_[it->value()].get());
  }
  return out;
}

// ---- shape ----

Result<MemcgId> MemcgTree::create_group(MemcgId parent, std::string_view name) {
  return create(parent, name, NodeKind::group);
}

Result<MemcgId> MemcgTree::create_guest(MemcgId parent, std::string_view name) {
  return create(parent, name, NodeKind::guest);
}

Result<MemcgId> MemcgTree::create(MemcgId parent, std::string_view name, NodeKind kind) {
  std::lock_guard c(control_mutex_);
  std::lock_guard l(mutex_);
  const std::string shown(name);
  if (!valid_node_name(name)) {
    return make_error(std::errc::invalid_argument,
                      "bad memcg name '" + shown + "' (letters, digits, '-', '_', '.'; at most 64)");
  }
  TIDE_TRY_ASSIGN(p, node_locked(parent));
  if (p->is_leaf()) {
    return make_error(std::errc::invalid_argument,
                      "memcg " + path_locked(*p) + " is a guest; '" + shown + "' must go under the root or a group");
  }
  if (p->depth + 1 >= kMaxDepth) {
    return make_error(std::errc::invalid_argument,
                      log::strf("memcg '%s' would be %u levels deep; at most %zu", shown.c_str(), p->depth + 1,
                                kMaxDepth - 1));
  }
  for (MemcgId sibling : p->children) {
    if (nodes_[sibling.value()]->name == name) {
      return make_error(std::errc::file_exists, "memcg " + path_locked(*nodes_[sibling.value()]) + " already exists");
    }
  }
  if (nodes_.size() >= MemcgId::kInvalidValue) {
    return make_error(std::errc::too_many_files_open, "too many memcgs created");
  }
  auto node = std::make_unique<Node>();
  node->id = MemcgId(static_cast<uint32_t>(nodes_.size()));
  node->parent = p->id;
  node->kind = kind;
  node->depth = p->depth + 1;
  node->name = shown;
  p->children.push_back(node->id);
  const MemcgId id = node->id;
  nodes_.push_back(std::move(node));
  ++live_;
  return id;
}

Status MemcgTree::remove(MemcgId id) {
  std::lock_guard c(control_mutex_);
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, node_locked(id));
  if (node->kind == NodeKind::root) return make_error(std::errc::invalid_argument, "the root memcg cannot be removed");
  if (!node->children.empty()) {
    return make_error(std::errc::device_or_resource_busy,
                      log::strf("memcg %s has %zu children; remove them first", path_locked(*node).c_str(),
                                node->children.size()));
  }
  if (node->current != 0 || node->swap_current != 0) {
    return make_error(std::errc::device_or_resource_busy,
                      log::strf("memcg %s still has %llu pages and %llu swap slots charged; release them first",
                                path_locked(*node).c_str(), ull(node->current), ull(node->swap_current)));
  }
  // Gauges describe pages that exist now: they leave the ancestors' sums. Counters and
  // events stay there, so the totals above never go backwards.
  for (Node* a = nodes_[node->parent.value()].get(); a != nullptr;
       a = a->parent.valid() ? nodes_[a->parent.value()].get() : nullptr) {
    for (size_t s = 0; s < static_cast<size_t>(kFirstCounter); ++s) a->stat.n[s] -= node->stat.n[s];
  }
  auto& siblings = nodes_[node->parent.value()]->children;
  siblings.erase(std::find(siblings.begin(), siblings.end(), id));
  nodes_[id.value()].reset();
  --live_;
  return ok();
}

// ---- settings ----

Status MemcgTree::set_limit(MemcgId id, Limit limit, uint64_t pages) {
  std::unique_lock control(control_mutex_);
  if (limit == Limit::max) return set_max_locked(control, id, pages, nullptr);
  LimitRaise raise{id, limit, 0, pages};
  {
    std::lock_guard l(mutex_);
    TIDE_TRY_ASSIGN(node, node_locked(id));
    TIDE_TRY(validate_limit(node->kind, limit, pages));
    raise.old_pages = node->settings.get(limit);
    node->settings.set(limit, pages);
  }
  control.unlock();
  if (raises_room(limit) && pages > raise.old_pages) listeners_.notify(raise);
  return ok();
}

Status MemcgTree::set_max(MemcgId id, uint64_t pages, Reclaimer& reclaimer) {
  std::unique_lock control(control_mutex_);
  return set_max_locked(control, id, pages, &reclaimer);
}

Status MemcgTree::set_max_locked(std::unique_lock<std::mutex>& control, MemcgId id, uint64_t pages,
                                 Reclaimer* reclaimer) {
  uint64_t old = 0;
  uint64_t current = 0;
  std::string where;
  {
    std::lock_guard l(mutex_);
    TIDE_TRY_ASSIGN(node, node_locked(id));
    TIDE_TRY(validate_limit(node->kind, Limit::max, pages));
    old = node->settings.max;
    current = node->current;
    where = path_locked(*node);
    // Not lowering, or lowering to a value usage already fits: in force at once. A node
    // already above its old max (charge_force) may have it raised without reclaim.
    if (current <= pages || pages >= old) {
      node->settings.max = pages;
    } else if (reclaimer == nullptr) {
      return make_error(std::errc::device_or_resource_busy,
                        log::strf("memory.max of %s: usage %llu pages is above %llu; reclaim first or choose a "
                                  "larger limit",
                                  where.c_str(), ull(current), ull(pages)));
    } else {
      // The lower max is in force while we reclaim, so charges cannot refill what we take.
      node->settings.max = pages;
    }
  }
  if (current <= pages || pages >= old) {
    control.unlock();
    if (pages > old) listeners_.notify(LimitRaise{id, Limit::max, old, pages});
    return ok();
  }

  unsigned rounds = 0;
  uint64_t freed_total = 0;
  while (rounds < kSetMaxReclaimRounds) {
    {
      std::lock_guard l(mutex_);
      current = nodes_[id.value()]->current;  // the control lock keeps the node alive
    }
    if (current <= pages) break;
    const uint64_t freed = reclaimer->reclaim(id, current - pages);
    ++rounds;
    freed_total += freed;
    if (freed == 0) break;  // a reclaimer that made no progress will not make more
  }
  {
    std::lock_guard l(mutex_);
    Node* node = nodes_[id.value()].get();
    current = node->current;
    if (current <= pages) return ok();
    node->settings.max = old;
  }
  control.unlock();
  // Faulters refused under the lower max may go on again.
  listeners_.notify(LimitRaise{id, Limit::max, pages, old});
  return make_error(std::errc::device_or_resource_busy,
                    log::strf("memory.max of %s: usage is still %llu pages, above %llu, after %u reclaim round%s "
                              "(%llu pages freed); max stays %s",
                              where.c_str(), ull(current), ull(pages), rounds, rounds == 1 ? "" : "s",
                              ull(freed_total), old >= kUnlimited ? "max" : log::strf("%llu pages", ull(old)).c_str()));
}

Result<MemcgSettings> MemcgTree::settings(MemcgId id) const {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, node_locked(id));
  return node->settings;
}

// ---- snapshots ----

MemcgSnapshot MemcgTree::snapshot_locked(const Node& node) const {
  MemcgSnapshot s;
  s.id = node.id;
  s.parent = node.parent;
  s.kind = node.kind;
  s.depth = node.depth;
  s.name = node.name;
  s.path = path_locked(node);
  s.children = node.children;
  s.settings = node.settings;
  s.current = node.current;
  s.peak = node.peak;
  s.swap_current = node.swap_current;
  s.swap_peak = node.swap_peak;
  s.events = node.events;
  s.events_local = node.events_local;
  s.stat = node.stat;
  return s;
}

Result<MemcgSnapshot> MemcgTree::snapshot(MemcgId id) const {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(node, node_locked(id));
  return snapshot_locked(*node);
}

std::vector<MemcgSnapshot> MemcgTree::snapshot_all() const {
  std::lock_guard l(mutex_);
  std::vector<MemcgSnapshot> out;
  out.reserve(live_);
  std::vector<const Node*> stack{nodes_[0].get()};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    out.push_back(snapshot_locked(*n));
    for (auto it = n->children.rbegin(); it != n->children.rend(); ++it) stack.push_back(nodes_[it->value()].get());
  }
  return out;
}

// ---- protection ----

Result<std::vector<ProtectionInput>> MemcgTree::protection_view_locked(MemcgId reclaim_root) const {
  TIDE_TRY_ASSIGN(top, node_locked(reclaim_root));
  std::vector<ProtectionInput> view;
  std::vector<std::pair<const Node*, size_t>> stack{{top, kNoParent}};
  while (!stack.empty()) {
    auto [n, parent] = stack.back();
    stack.pop_back();
    const size_t index = view.size();
    view.push_back(ProtectionInput{n->id, parent, n->current, n->settings.min, n->settings.low, n->is_leaf()});
    for (auto it = n->children.rbegin(); it != n->children.rend(); ++it) {
      stack.emplace_back(nodes_[it->value()].get(), index);
    }
  }
  return view;
}

Result<std::vector<EffectiveProtection>> MemcgTree::effective_protection(MemcgId reclaim_root) const {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(view, protection_view_locked(reclaim_root));
  return compute_protection(view, options_.recursive_protection);
}

Result<ReclaimPlan> MemcgTree::plan_reclaim(uint64_t goal, MemcgId reclaim_root) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(view, protection_view_locked(reclaim_root));
  TIDE_TRY_ASSIGN(protection, compute_protection(view, options_.recursive_protection));
  TIDE_TRY_ASSIGN(plan, memcg::plan_reclaim(view, protection, goal));
  for (const ReclaimShare& s : plan.shares) {
    if (s.from_low > 0) count_event_locked(nodes_[s.leaf.value()].get(), Event::low, 1);
  }
  return plan;
}

}  // namespace tide::gmm::memcg
