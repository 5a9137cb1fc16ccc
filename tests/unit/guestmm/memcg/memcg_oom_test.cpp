// Unit: OOM victim bookkeeping — the largest guest under the node, never one that is still
// dying, oom and oom_kill events, forget and mark_dying.
#include <gtest/gtest.h>

#include "guestmm/memcg/memcg_oom.hpp"
#include "memcg_test_util.hpp"

namespace tide::gmm::memcg {
namespace {

using test::must;
using test::snap;

class MemcgOom : public ::testing::Test {
 protected:
  MemcgOom() : oom(tree) {
    t = must(tree.create_group(kRootId, "t"));
    a = must(tree.create_guest(t, "a"));
    b = must(tree.create_guest(t, "b"));
    c = must(tree.create_guest(kRootId, "c"));
    charge(a, 30);
    charge(b, 50);
    charge(c, 80);
  }
  void charge(MemcgId g, uint64_t pages) {
    auto r = tree.try_charge(g, pages);
    ASSERT_TRUE(r && r->charged);
  }
  OomChoice select(MemcgId node) {
    auto r = oom.select(node);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : OomChoice{};
  }

  MemcgTree tree;
  OomVictims oom;
  MemcgId t, a, b, c;
};

TEST_F(MemcgOom, PicksTheLargestAndNeverTheSameTwiceWhileItDies) {
  OomChoice first = select(kRootId);
  EXPECT_EQ(first.victim, c);
  EXPECT_EQ(first.victim_pages, 80u);
  EXPECT_EQ(first.dying_under, 0u);
  EXPECT_TRUE(oom.is_dying(c));
  OomChoice second = select(kRootId);
  EXPECT_EQ(second.victim, b);
  EXPECT_EQ(second.dying_under, 1u);
  OomChoice third = select(kRootId);
  EXPECT_EQ(third.victim, a);
  OomChoice none = select(kRootId);
  EXPECT_FALSE(none.victim.valid());
  EXPECT_EQ(none.dying_under, 3u);
  EXPECT_EQ(oom.dying(), 3u);
  // Four OOMs at the root, three kills, each at its victim.
  MemcgSnapshot root = snap(tree, kRootId);
  EXPECT_EQ(root.events_local[Event::oom], 4u);
  EXPECT_EQ(root.events[Event::oom_kill], 3u);
  EXPECT_EQ(snap(tree, c).events_local[Event::oom_kill], 1u);
  EXPECT_EQ(snap(tree, b).events_local[Event::oom_kill], 1u);
  EXPECT_EQ(snap(tree, t).events[Event::oom_kill], 2u);
  ASSERT_AUDIT(tree);
}

TEST_F(MemcgOom, OnlyGuestsUnderTheNodeAreCandidates) {
  OomChoice r = select(t);
  EXPECT_EQ(r.victim, b);  // c is larger but outside t
  EXPECT_EQ(snap(tree, t).events_local[Event::oom], 1u);
  EXPECT_EQ(snap(tree, kRootId).events_local[Event::oom], 0u);
  r = select(a);  // a guest's own OOM: itself
  EXPECT_EQ(r.victim, a);
  r = select(a);
  EXPECT_FALSE(r.victim.valid());
  EXPECT_EQ(r.dying_under, 1u);
}

TEST_F(MemcgOom, ForgetMakesAGuestACandidateAgain) {
  EXPECT_EQ(select(kRootId).victim, c);
  EXPECT_EQ(select(kRootId).victim, b);
  oom.forget(c);  // teardown over (or abandoned)
  EXPECT_FALSE(oom.is_dying(c));
  EXPECT_EQ(select(kRootId).victim, c);
  oom.forget(MemcgId(999));  // unknown: ignored
}

TEST_F(MemcgOom, MarkDyingExcludesAGuestTornDownElsewhere) {
  ASSERT_OK(oom.mark_dying(c));
  OomChoice r = select(kRootId);
  EXPECT_EQ(r.victim, b);
  EXPECT_EQ(r.dying_under, 1u);
  EXPECT_EQ(snap(tree, c).events_local[Event::oom_kill], 0u);  // not killed by the policy
  EXPECT_ERRC(oom.mark_dying(t), std::errc::invalid_argument);
  EXPECT_ERRC(oom.mark_dying(MemcgId(999)), std::errc::no_such_file_or_directory);
}

TEST_F(MemcgOom, EmptyGuestsAreNotWorthKillingAndTiesGoToTheEarlier) {
  MemcgId e = must(tree.create_guest(kRootId, "empty"));
  ASSERT_OK(tree.uncharge(c, 30));  // c at 50, like b
  EXPECT_EQ(select(kRootId).victim, b);  // b comes before c in tree order
  EXPECT_EQ(select(kRootId).victim, c);
  EXPECT_EQ(select(kRootId).victim, a);
  OomChoice r = select(kRootId);
  EXPECT_FALSE(r.victim.valid());
  EXPECT_FALSE(oom.is_dying(e));
}

TEST_F(MemcgOom, UnknownNodeIsAnErrorAndCountsNothing) {
  EXPECT_ERRC(oom.select(MemcgId(999)), std::errc::no_such_file_or_directory);
  EXPECT_EQ(snap(tree, kRootId).events[Event::oom], 0u);
}

}  // namespace
}  // namespace tide::gmm::memcg
