// Helpers shared by the memcg unit tests: status assertions, a test peer that reaches into
// the tree to corrupt it (so the audit can be seen to catch it), and a fake reclaimer.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "guestmm/memcg/memcg_tree.hpp"

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    auto st_ = (expr);                                       \
    ASSERT_TRUE(st_) << st_.error().message();               \
  } while (0)

#define EXPECT_ERRC(expr, errc_value)                                               \
  do {                                                                              \
    auto st_ = (expr);                                                              \
    ASSERT_FALSE(st_) << #expr " succeeded";                                        \
    EXPECT_EQ(st_.error().code, std::make_error_code(errc_value)) << st_.error().message(); \
  } while (0)

#define ASSERT_AUDIT(tree)                                   \
  do {                                                       \
    auto st_ = (tree).check_invariants();                    \
    ASSERT_TRUE(st_) << st_.error().message();               \
  } while (0)

namespace tide::gmm::memcg {

struct MemcgTreeTestPeer {
  static Node& node(MemcgTree& t, MemcgId id) { return *t.nodes_[id.value()]; }
  static void remove_child_link(MemcgTree& t, MemcgId parent, MemcgId child) {
    auto& c = t.nodes_[parent.value()]->children;
    c.erase(std::find(c.begin(), c.end(), child));
  }
};

namespace test {

inline MemcgId must(Result<MemcgId> r) {
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : MemcgId{};
}

inline MemcgSnapshot snap(const MemcgTree& t, MemcgId id) {
  auto s = t.snapshot(id);
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  return s ? *s : MemcgSnapshot{};
}

inline uint64_t current(const MemcgTree& t, MemcgId id) { return snap(t, id).current; }

// Frees pages from one guest per round, as scripted: round k frees per_round[k] pages (0
// once the script runs out), never more than the guest has. `during` runs inside each
// round before freeing (to observe the tree while set_max waits on the reclaimer).
class FakeReclaimer final : public Reclaimer {
 public:
  FakeReclaimer(MemcgTree& tree, MemcgId victim, std::vector<uint64_t> per_round)
      : tree_(tree), victim_(victim), per_round_(std::move(per_round)) {}

  uint64_t reclaim(MemcgId node, uint64_t pages_wanted) override {
    asked.emplace_back(node, pages_wanted);
    if (during) during();
    const size_t round = asked.size() - 1;
    uint64_t free = round < per_round_.size() ? per_round_[round] : 0;
    free = std::min(free, current(tree_, victim_));
    EXPECT_TRUE(tree_.uncharge(victim_, free));
    return free;
  }

  std::vector<std::pair<MemcgId, uint64_t>> asked;  // (node, pages wanted) per call
  std::function<void()> during;

 private:
  MemcgTree& tree_;
  MemcgId victim_;
  std::vector<uint64_t> per_round_;
};

}  // namespace test
}  // namespace tide::gmm::memcg
