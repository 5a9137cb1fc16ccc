// Unit: MemcgTree's shape — create, lookup by path and name, removal rules, settings
// validation, snapshots.
#include <gtest/gtest.h>

#include <string>

#include "memcg_test_util.hpp"

namespace tide::gmm::memcg {
namespace {

using test::must;
using test::snap;

TEST(MemcgTree, StartsWithTheRootOnly) {
  MemcgTree t;
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.exists(kRootId));
  EXPECT_EQ(t.find_path("/").value(), kRootId);
  EXPECT_EQ(t.path(kRootId).value(), "/");
  MemcgSnapshot r = snap(t, kRootId);
  EXPECT_EQ(r.kind, NodeKind::root);
  EXPECT_FALSE(r.parent.valid());
  EXPECT_EQ(r.settings.max, kUnlimited);
  ASSERT_AUDIT(t);
}

TEST(MemcgTree, RootMaxIsTheHostBudget) {
  MemcgTree t(MemcgTreeOptions{.root_max = 1000});
  EXPECT_EQ(t.settings(kRootId).value().max, 1000u);
  MemcgTree huge(MemcgTreeOptions{.root_max = UINT64_MAX});
  EXPECT_EQ(huge.settings(kRootId).value().max, kUnlimited);
}

TEST(MemcgTree, CreateAndFindByPathAndName) {
  MemcgTree t;
  MemcgId a = must(t.create_group(kRootId, "tenant-a"));
  MemcgId g1 = must(t.create_guest(a, "vm1"));
  MemcgId g2 = must(t.create_guest(kRootId, "vm2"));
  EXPECT_EQ(a.value(), 1u);  // small, in creation order
  EXPECT_EQ(g1.value(), 2u);
  EXPECT_EQ(g2.value(), 3u);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.find_path("/tenant-a/vm1").value(), g1);
  EXPECT_EQ(t.find_path("/tenant-a/vm1/").value(), g1);
  EXPECT_EQ(t.find_path("/tenant-a").value(), a);
  EXPECT_EQ(t.find_path("/vm2").value(), g2);
  EXPECT_EQ(t.find_name("vm1").value(), g1);
  EXPECT_EQ(t.find_name("tenant-a").value(), a);
  EXPECT_EQ(t.path(g1).value(), "/tenant-a/vm1");
  EXPECT_ERRC(t.find_path("/tenant-a/vm2"), std::errc::no_such_file_or_directory);
  EXPECT_ERRC(t.find_path("vm1"), std::errc::invalid_argument);
  EXPECT_ERRC(t.find_path("/tenant-a//vm1"), std::errc::invalid_argument);
  EXPECT_ERRC(t.find_name("nobody"), std::errc::no_such_file_or_directory);
  MemcgSnapshot s = snap(t, g1);
  EXPECT_EQ(s.kind, NodeKind::guest);
  EXPECT_EQ(s.parent, a);
  EXPECT_EQ(s.depth, 2u);
  EXPECT_EQ(s.path, "/tenant-a/vm1");
  EXPECT_EQ(snap(t, a).children, (std::vector<MemcgId>{g1}));
  ASSERT_AUDIT(t);
}

TEST(MemcgTree, NamesAreValidatedAndUniqueAmongSiblings) {
  MemcgTree t;
  for (const std::string& bad : std::vector<std::string>{"", "a/b", "-x", ".x", "x y", "\xc3\xa9", std::string(65, 'a')}) {
    EXPECT_ERRC(t.create_guest(kRootId, bad), std::errc::invalid_argument);
  }
  EXPECT_TRUE(t.create_guest(kRootId, std::string(64, 'a')));
  MemcgId a = must(t.create_group(kRootId, "a"));
  MemcgId b = must(t.create_group(kRootId, "b"));
  must(t.create_guest(a, "vm"));
  EXPECT_ERRC(t.create_guest(a, "vm"), std::errc::file_exists);
  EXPECT_ERRC(t.create_group(a, "vm"), std::errc::file_exists);
  EXPECT_ERRC(t.create_group(kRootId, "a"), std::errc::file_exists);
  must(t.create_guest(b, "vm"));  // another parent: fine
  EXPECT_ERRC(t.find_name("vm"), std::errc::invalid_argument);  // ambiguous: give the path
  ASSERT_AUDIT(t);
}

TEST(MemcgTree, GuestsHaveNoChildrenAndDepthIsBounded) {
  MemcgTree t;
  MemcgId g = must(t.create_guest(kRootId, "vm"));
  EXPECT_ERRC(t.create_guest(g, "x"), std::errc::invalid_argument);
  EXPECT_ERRC(t.create_group(g, "x"), std::errc::invalid_argument);
  EXPECT_ERRC(t.create_guest(MemcgId(99), "x"), std::errc::no_such_file_or_directory);
  MemcgId p = kRootId;
  for (size_t d = 1; d < kMaxDepth - 1; ++d) p = must(t.create_group(p, "g" + std::to_string(d)));
  MemcgId deepest = must(t.create_guest(p, "leaf"));
  EXPECT_EQ(snap(t, deepest).depth, kMaxDepth - 1);
  MemcgId last = must(t.create_group(p, "last"));  // a group at the deepest level may exist...
  EXPECT_ERRC(t.create_guest(last, "x"), std::errc::invalid_argument);  // ...but hold nothing
  ASSERT_AUDIT(t);
}

TEST(MemcgTree, RemoveRefusesTheRootParentsAndChargedNodes) {
  MemcgTree t;
  MemcgId a = must(t.create_group(kRootId, "a"));
  MemcgId g = must(t.create_guest(a, "vm"));
  EXPECT_ERRC(t.remove(kRootId), std::errc::invalid_argument);
  EXPECT_ERRC(t.remove(a), std::errc::device_or_resource_busy);
  ASSERT_TRUE(t.try_charge(g, 3).value().charged);
  auto busy = t.remove(g);
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, std::make_error_code(std::errc::device_or_resource_busy));
  EXPECT_NE(busy.error().message().find("3 pages"), std::string::npos) << busy.error().message();
  ASSERT_OK(t.uncharge(g, 3));
  ASSERT_TRUE(t.try_charge_swap(g, 1).value().charged);
  EXPECT_ERRC(t.remove(g), std::errc::device_or_resource_busy);
  ASSERT_OK(t.uncharge_swap(g, 1));
  ASSERT_OK(t.remove(g));
  EXPECT_FALSE(t.exists(g));
  EXPECT_ERRC(t.find_path("/a/vm"), std::errc::no_such_file_or_directory);
  EXPECT_ERRC(t.remove(g), std::errc::no_such_file_or_directory);
  EXPECT_ERRC(t.try_charge(g, 1), std::errc::no_such_file_or_directory);
  ASSERT_OK(t.remove(a));
  EXPECT_EQ(t.size(), 1u);
  ASSERT_AUDIT(t);
}

TEST(MemcgTree, IdsAreNeverReused) {
  MemcgTree t;
  MemcgId g = must(t.create_guest(kRootId, "vm"));
  ASSERT_OK(t.remove(g));
  MemcgId again = must(t.create_guest(kRootId, "vm"));
  EXPECT_NE(again, g);
  EXPECT_GT(again.value(), g.value());
  // The stale id names nothing, so a guest holding it can only fail, never charge another.
  EXPECT_ERRC(t.try_charge(g, 1), std::errc::no_such_file_or_directory);
}

TEST(MemcgTree, SettingsAreValidated) {
  MemcgTree t;
  MemcgId g = must(t.create_guest(kRootId, "vm"));
  ASSERT_OK(t.set_limit(g, Limit::high, 10));
  ASSERT_OK(t.set_limit(g, Limit::low, 5));
  ASSERT_OK(t.set_limit(g, Limit::min, 2));
  ASSERT_OK(t.set_limit(g, Limit::swap_max, 7));
  ASSERT_OK(t.set_limit(g, Limit::max, 20));
  MemcgSettings s = t.settings(g).value();
  EXPECT_EQ(s, (MemcgSettings{20, 10, 5, 2, 7}));
  EXPECT_ERRC(t.set_limit(g, Limit::max, kMaxPages + 1), std::errc::invalid_argument);
  EXPECT_ERRC(t.set_limit(kRootId, Limit::low, 4), std::errc::invalid_argument);
  EXPECT_ERRC(t.set_limit(MemcgId(42), Limit::high, 4), std::errc::no_such_file_or_directory);
  EXPECT_EQ(t.settings(g).value(), s);  // refused writes change nothing
  ASSERT_OK(t.set_limit(g, Limit::max, kUnlimited));
  EXPECT_EQ(t.settings(g).value().max, kUnlimited);
}

TEST(MemcgTree, LeavesUnderAndSnapshotAllAreInTreeOrder) {
  MemcgTree t;
  MemcgId a = must(t.create_group(kRootId, "a"));
  MemcgId g1 = must(t.create_guest(a, "g1"));
  MemcgId b = must(t.create_group(a, "b"));
  MemcgId g2 = must(t.create_guest(b, "g2"));
  MemcgId g3 = must(t.create_guest(kRootId, "g3"));
  ASSERT_TRUE(t.try_charge(g2, 4).value().charged);
  auto leaves = t.leaves_under(a).value();
  ASSERT_EQ(leaves.size(), 2u);
  EXPECT_EQ(leaves[0].id, g1);
  EXPECT_EQ(leaves[1].id, g2);
  EXPECT_EQ(leaves[1].current, 4u);
  auto one = t.leaves_under(g3).value();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].id, g3);
  auto all = t.snapshot_all();
  ASSERT_EQ(all.size(), 6u);
  std::vector<MemcgId> order;
  for (const auto& s : all) order.push_back(s.id);
  EXPECT_EQ(order, (std::vector<MemcgId>{kRootId, a, g1, b, g2, g3}));
  EXPECT_EQ(all[3].path, "/a/b");
  EXPECT_EQ(all[1].current, 4u);
}

}  // namespace
}  // namespace tide::gmm::memcg
