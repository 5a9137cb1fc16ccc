// OomVictims: the OOM policy's bookkeeping. When reclaim cannot make room under a node (its
// max, or the pool under the root), the policy asks for a victim: the guest under that node
// with the largest current among those not already being torn down, and never a guest that
// is still dying from an earlier choice (ARCHITECTURE.md: "a guest being torn down is not
// picked twice"). Choosing marks the victim dying and counts events: `oom` at the node,
// `oom_kill` at the victim. The caller stops the guest; when its teardown is over it calls
// forget() (or removes the leaf and then forgets it).
// The kernel does not pick a second victim while one is still exiting under the same
// memcg; tide reports how many are dying under the node (`dying_under`) so the policy can
// make the same choice (wait) or kill another.
// Thread-safety: any thread; one mutex, taken before the tree's (lock order: this -> tree).
#pragma once

#include <cstdint>
#include <mutex>
#include <set>

#include "guestmm/base/error.hpp"
#include "guestmm/memcg/memcg_tree.hpp"

namespace tide::gmm::memcg {

struct OomChoice {
  MemcgId victim;             // invalid: no candidate (every guest under the node is dying or empty)
  uint64_t victim_pages = 0;  // its current when chosen
  uint32_t dying_under = 0;   // guests under the node already dying (before this choice)
};

class OomVictims {
 public:
  explicit OomVictims(MemcgTree& tree) : tree_(tree) {}
  OomVictims(const OomVictims&) = delete;
  OomVictims& operator=(const OomVictims&) = delete;

  // An OOM under `node`: counts an oom event there, chooses the victim (largest current;
  // ties to the earlier guest in tree order; guests with nothing charged are skipped, since
  // stopping them frees nothing), marks it dying and counts oom_kill at it.
  // Errors: no_such_file_or_directory for an unknown node.
  [[nodiscard]] Result<OomChoice> select(MemcgId node);
  // A teardown started elsewhere (the user stopped the guest): not a candidate until
  // forgotten. invalid_argument if `leaf` is not a guest of the tree.
  [[nodiscard]] Status mark_dying(MemcgId leaf);
  // The teardown is over (or was abandoned): the guest is a candidate again if it still
  // exists. Unknown ids are ignored.
  void forget(MemcgId leaf);
  [[nodiscard]] bool is_dying(MemcgId leaf) const;
  [[nodiscard]] size_t dying() const;

 private:
  MemcgTree& tree_;
  mutable std::mutex mutex_;
  std::set<MemcgId> dying_;
};

}  // namespace tide::gmm::memcg
