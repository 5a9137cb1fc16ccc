#include "guestmm/memcg/memcg_protection.hpp"

#include <algorithm>
#include <numeric>

#include "guestmm/base/log.hpp"

namespace tide::gmm::memcg {

namespace {

// Page counts go up to 2^52 each; their products need 128 bits.
__extension__ typedef unsigned __int128 U128;

uint64_t narrow(U128 v) { return v > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(v); }

}  // namespace

uint64_t effective_protection(uint64_t usage, uint64_t parent_usage, uint64_t setting, uint64_t parent_effective,
                              uint64_t siblings_protected, bool recursive) {
  const uint64_t protected_pages = std::min(usage, setting);
  // Siblings claim and use more than the parent affords them: shares in proportion to
  // protected usage (actual use, not the claim, so unused claims go to the others).
  if (siblings_protected > parent_effective) {
    return narrow(U128{protected_pages} * parent_effective / siblings_protected);
  }
  uint64_t ep = protected_pages;
  if (recursive && parent_usage > siblings_protected) {
    const U128 unclaimed = U128{parent_effective - siblings_protected} * (usage - protected_pages) /
                           (parent_usage - siblings_protected);
    ep = narrow(U128{ep} + unclaimed);
  }
  return ep;
}

Result<std::vector<EffectiveProtection>> compute_protection(std::span<const ProtectionInput> nodes, bool recursive) {
  if (nodes.empty()) return make_error(std::errc::invalid_argument, "protection: empty subtree");
  if (nodes[0].parent != kNoParent) {
    return make_error(std::errc::invalid_argument, "protection: the first node must be the reclaim root");
  }
  const size_t n = nodes.size();
  std::vector<uint64_t> children_min(n, 0);
  std::vector<uint64_t> children_low(n, 0);
  for (size_t i = 1; i < n; ++i) {
    const size_t p = nodes[i].parent;
    if (p >= i) {
      return make_error(std::errc::invalid_argument,
                        log::strf("protection: node %zu comes before its parent %zu", i, p));
    }
    // propagate_protected_usage(): what each child claims and uses.
    children_min[p] += std::min(nodes[i].usage, nodes[i].min);
    children_low[p] += std::min(nodes[i].usage, nodes[i].low);
  }

  std::vector<EffectiveProtection> out(n);
  out[0].id = nodes[0].id;  // the reclaim root: unprotected
  for (size_t i = 1; i < n; ++i) {
    const ProtectionInput& c = nodes[i];
    const size_t p = c.parent;
    out[i].id = c.id;
    if (c.usage == 0) continue;
    if (p == 0) {
      out[i].emin = c.min;
      out[i].elow = c.low;
      continue;
    }
    out[i].emin = effective_protection(c.usage, nodes[p].usage, c.min, out[p].emin, children_min[p], recursive);
    out[i].elow = effective_protection(c.usage, nodes[p].usage, c.low, out[p].elow, children_low[p], recursive);
  }
  return out;
}

std::vector<uint64_t> share_out(std::span<const uint64_t> room, uint64_t goal) {
  std::vector<uint64_t> take(room.size(), 0);
  U128 total = 0;
  for (uint64_t r : room) total += r;
  if (total <= goal) {
    std::copy(room.begin(), room.end(), take.begin());
    return take;
  }
  // total > goal >= 0, so total > 0 and every share is below its room.
  std::vector<U128> remainder(room.size(), 0);
  uint64_t given = 0;
  for (size_t i = 0; i < room.size(); ++i) {
    const U128 exact = U128{goal} * room[i];
    take[i] = static_cast<uint64_t>(exact / total);
    remainder[i] = exact % total;
    given += take[i];
  }
  // The floors fall short by the sum of the fractional parts: fewer pages than candidates
  // with a non-zero fraction, each of which has room for one more.
  std::vector<size_t> order(room.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return remainder[a] > remainder[b]; });
  for (size_t k = 0; k < order.size() && given < goal; ++k) {
    const size_t i = order[k];
    if (remainder[i] == 0) break;
    ++take[i];
    ++given;
  }
  return take;
}

Result<ReclaimPlan> plan_reclaim(std::span<const ProtectionInput> nodes, std::span<const EffectiveProtection> protection,
                                 uint64_t goal) {
  if (nodes.size() != protection.size()) {
    return make_error(std::errc::invalid_argument, "reclaim plan: protection does not match the subtree");
  }
  ReclaimPlan plan;
  plan.goal = goal;
  std::vector<size_t> leaves;
  std::vector<uint64_t> above_low;  // pass 1 room
  std::vector<uint64_t> in_low;     // pass 2 room
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].leaf) continue;
    const uint64_t usage = nodes[i].usage;
    const uint64_t hard = std::min(usage, protection[i].emin);
    const uint64_t soft = std::min(usage, std::max(protection[i].emin, protection[i].elow));
    leaves.push_back(i);
    above_low.push_back(usage - soft);
    in_low.push_back(soft - hard);
  }

  const std::vector<uint64_t> first = share_out(above_low, goal);
  uint64_t planned = 0;
  for (uint64_t t : first) planned += t;
  std::vector<uint64_t> second(leaves.size(), 0);
  if (planned < goal) second = share_out(in_low, goal - planned);

  for (size_t k = 0; k < leaves.size(); ++k) {
    const uint64_t pages = first[k] + second[k];
    if (pages == 0) continue;
    plan.shares.push_back(ReclaimShare{nodes[leaves[k]].id, pages, second[k]});
    plan.planned += pages;
    plan.from_low += second[k];
  }
  plan.unmet = goal - plan.planned;
  return plan;
}

}  // namespace tide::gmm::memcg
