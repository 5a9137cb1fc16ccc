// Reclaimer: what MemcgTree::set_max asks to bring a node's usage down under a lowered max.
// The memory manager implements it with its reclaim order (reported pages, then the
// balloon, then swap); tests implement it with fakes.
// Contract: reclaim() runs on the thread that called set_max, with no tree lock held and the
// tree's control lock held (so it must not change settings or the tree's shape). It frees
// pages of guests under `node` and uncharges them through MemcgTree::uncharge as it goes;
// the tree judges success by the node's current, and uses the returned count only to see
// whether a round made any progress.
#pragma once

#include <cstdint>

#include "guestmm/memcg/memcg_types.hpp"

namespace tide::gmm::memcg {

class Reclaimer {
 public:
  virtual ~Reclaimer() = default;
  // Tries to free `pages_wanted` pages charged under `node`; returns how many it freed
  // (and uncharged). May free fewer, or more.
  virtual uint64_t reclaim(MemcgId node, uint64_t pages_wanted) = 0;
};

}  // namespace tide::gmm::memcg
