#include "guestmm/memcg/memcg_oom.hpp"

namespace tide::gmm::memcg {

Result<OomChoice> OomVictims::select(MemcgId node) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(leaves, tree_.leaves_under(node));
  TIDE_TRY(tree_.record_event(node, Event::oom));
  OomChoice choice;
  for (const LeafUsage& leaf : leaves) {
    if (dying_.contains(leaf.id)) {
      ++choice.dying_under;
      continue;
    }
    if (leaf.current > choice.victim_pages) {
      choice.victim = leaf.id;
      choice.victim_pages = leaf.current;
    }
  }
  if (!choice.victim.valid()) return choice;
  // The guest may have been removed since leaves_under; then there is nothing to kill.
  if (!tree_.record_event(choice.victim, Event::oom_kill)) return OomChoice{MemcgId{}, 0, choice.dying_under};
  dying_.insert(choice.victim);
  return choice;
}

Status OomVictims::mark_dying(MemcgId leaf) {
  std::lock_guard l(mutex_);
  TIDE_TRY_ASSIGN(snap, tree_.snapshot(leaf));
  if (snap.kind != NodeKind::guest) {
    return make_error(std::errc::invalid_argument, "memcg " + snap.path + " is not a guest: only guests die");
  }
  dying_.insert(leaf);
  return ok();
}

void OomVictims::forget(MemcgId leaf) {
  std::lock_guard l(mutex_);
  dying_.erase(leaf);
}

bool OomVictims::is_dying(MemcgId leaf) const {
  std::lock_guard l(mutex_);
  return dying_.contains(leaf);
}

size_t OomVictims::dying() const {
  std::lock_guard l(mutex_);
  return dying_.size();
}

}  // namespace tide::gmm::memcg
