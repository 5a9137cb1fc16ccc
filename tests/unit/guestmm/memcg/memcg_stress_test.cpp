// Unit: seeded random sequences of tree operations checked against a simple model (a list
// of nodes with parent links, summed by walking), the audit after every step; and fault
// threads charging against limits the control plane moves, with the audit and a reader
// running meanwhile.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "memcg_test_util.hpp"

namespace tide::gmm::memcg {
namespace {

using test::snap;

struct ModelNode {
  bool alive = false;
  bool leaf = false;
  int parent = -1;
  int depth = 0;
  std::string name;
  uint64_t max = kUnlimited, high = kUnlimited, swap_max = kUnlimited;
  uint64_t current = 0, peak = 0, swap = 0;
  uint64_t max_events = 0, high_events = 0, swap_max_events = 0;  // local
};

class Model {
 public:
  Model() {
    nodes.push_back(ModelNode{});
    nodes[0].alive = true;
  }
  std::vector<int> path(int leaf) const {
    std::vector<int> p;
    for (int n = leaf; n >= 0; n = nodes[static_cast<size_t>(n)].parent) p.push_back(n);
    return p;
  }
  ModelNode& at(int i) { return nodes[static_cast<size_t>(i)]; }
  std::vector<ModelNode> nodes;
};

class MemcgModelCheck : public ::testing::TestWithParam<uint32_t> {};

TEST_P(MemcgModelCheck, RandomOperationsMatchTheModel) {
  std::mt19937 rng(GetParam());
  auto below = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  MemcgTree tree;
  Model m;
  const char* names[] = {"a", "b", "c", "d", "e", "f"};

  auto pick = [&](auto&& pred) -> int {
    std::vector<int> c;
    for (size_t i = 0; i < m.nodes.size(); ++i) {
      if (m.nodes[i].alive && pred(m.nodes[i])) c.push_back(static_cast<int>(i));
    }
    return c.empty() ? -1 : c[below(c.size())];
  };
  auto id = [](int i) { return MemcgId(static_cast<uint32_t>(i)); };
  // What the sequence exercised: each kind of outcome must have happened.
  int refused_creates = 0, removed = 0, refused_removes = 0, refused_charges = 0, forced_over = 0,
      refused_uncharges = 0, refused_max = 0, refused_swap = 0;

  for (int step = 0; step < 3000; ++step) {
    const uint64_t op = below(100);
    SCOPED_TRACE("seed " + std::to_string(GetParam()) + " step " + std::to_string(step) + " op " + std::to_string(op));
    if (op < 8) {  // create
      const int parent = pick([](const ModelNode& n) { return !n.leaf; });
      const bool leaf = below(2) != 0;
      const std::string name = names[below(6)];
      bool expect = m.at(parent).depth + 1 < static_cast<int>(kMaxDepth);
      for (const auto& n : m.nodes) expect = expect && !(n.alive && n.parent == parent && n.name == name);
      auto r = leaf ? tree.create_guest(id(parent), name) : tree.create_group(id(parent), name);
      ASSERT_EQ(static_cast<bool>(r), expect);
      refused_creates += expect ? 0 : 1;
      if (r) {
        ASSERT_EQ(r->value(), m.nodes.size());
        ModelNode n;
        n.alive = true;
        n.leaf = leaf;
        n.parent = parent;
        n.depth = m.at(parent).depth + 1;
        n.name = name;
        m.nodes.push_back(n);
      }
    } else if (op < 12) {  // remove
      const int victim = pick([](const ModelNode& n) { return n.parent >= 0; });
      if (victim < 0) continue;
      bool expect = m.at(victim).current == 0 && m.at(victim).swap == 0;
      for (const auto& n : m.nodes) expect = expect && !(n.alive && n.parent == victim);
      ASSERT_EQ(static_cast<bool>(tree.remove(id(victim))), expect);
      if (expect) m.at(victim).alive = false;
      (expect ? removed : refused_removes)++;
    } else if (op < 50 || op >= 90) {  // charge, sometimes forced
      const int leaf = pick([](const ModelNode& n) { return n.leaf; });
      if (leaf < 0) continue;
      const uint64_t pages = 1 + below(20);
      const bool force = op >= 95;
      auto r = force ? tree.charge_force(id(leaf), pages) : tree.try_charge(id(leaf), pages);
      ASSERT_TRUE(r);
      int limited = -1;
      for (int n : m.path(leaf)) {
        if (limited < 0 && m.at(n).current + pages > m.at(n).max) limited = n;
      }
      ASSERT_EQ(r->charged, force || limited < 0);
      ASSERT_EQ(r->limited_by, limited < 0 ? MemcgId{} : id(limited));
      if (limited >= 0) {
        m.at(limited).max_events++;
        (force ? forced_over : refused_charges)++;
      }
      if (!r->charged) continue;
      NodeList expect_high;
      for (int n : m.path(leaf)) {
        ModelNode& x = m.at(n);
        x.current += pages;
        x.peak = std::max(x.peak, x.current);
        if (x.current > x.high) {
          expect_high.push(id(n));
          x.high_events++;
        }
      }
      ASSERT_EQ(r->over_high.size(), expect_high.size());
      for (size_t i = 0; i < expect_high.size(); ++i) ASSERT_EQ(r->over_high[i], expect_high[i]);
    } else if (op < 70) {  // uncharge, sometimes too much
      const int leaf = pick([](const ModelNode& n) { return n.leaf; });
      if (leaf < 0) continue;
      // Sometimes all of it (so the guest can be removed), sometimes too much.
      const uint64_t pages = below(4) == 0 ? m.at(leaf).current : below(m.at(leaf).current + 3);
      const bool expect = pages <= m.at(leaf).current;
      ASSERT_EQ(static_cast<bool>(tree.uncharge(id(leaf), pages)), expect);
      refused_uncharges += expect ? 0 : 1;
      if (expect) {
        for (int n : m.path(leaf)) m.at(n).current -= pages;
      }
    } else if (op < 80) {  // limits
      const int node = pick([](const ModelNode&) { return true; });
      const uint64_t value = below(4) == 0 ? kUnlimited : below(120);
      const uint64_t which = below(3);
      if (which == 0) {
        const bool expect = value >= m.at(node).current || value >= m.at(node).max;
        ASSERT_EQ(static_cast<bool>(tree.set_limit(id(node), Limit::max, value)), expect);
        refused_max += expect ? 0 : 1;
        if (expect) m.at(node).max = value;
      } else if (which == 1) {
        ASSERT_OK(tree.set_limit(id(node), Limit::high, value));
        m.at(node).high = value;
      } else {
        ASSERT_OK(tree.set_limit(id(node), Limit::swap_max, value));
        m.at(node).swap_max = value;
      }
    } else if (op < 87) {  // swap
      const int leaf = pick([](const ModelNode& n) { return n.leaf; });
      if (leaf < 0) continue;
      if (below(2) == 0) {
        const uint64_t pages = 1 + below(10);
        auto r = tree.try_charge_swap(id(leaf), pages);
        ASSERT_TRUE(r);
        int limited = -1;
        for (int n : m.path(leaf)) {
          if (limited < 0 && m.at(n).swap + pages > m.at(n).swap_max) limited = n;
        }
        ASSERT_EQ(r->charged, limited < 0);
        if (limited >= 0) {
          m.at(limited).swap_max_events++;
          ++refused_swap;
        } else {
          for (int n : m.path(leaf)) m.at(n).swap += pages;
        }
      } else {
        const uint64_t pages = below(2) == 0 ? m.at(leaf).swap : below(m.at(leaf).swap + 2);
        const bool expect = pages <= m.at(leaf).swap;
        ASSERT_EQ(static_cast<bool>(tree.uncharge_swap(id(leaf), pages)), expect);
        if (expect) {
          for (int n : m.path(leaf)) m.at(n).swap -= pages;
        }
      }
    } else {  // reset a peak
      const int node = pick([](const ModelNode&) { return true; });
      ASSERT_OK(tree.reset_peak(id(node)));
      m.at(node).peak = m.at(node).current;
    }
    ASSERT_AUDIT(tree);
    if (step % 50 == 0) {
      for (size_t i = 0; i < m.nodes.size(); ++i) {
        const ModelNode& x = m.nodes[i];
        ASSERT_EQ(tree.exists(id(static_cast<int>(i))), x.alive);
        if (!x.alive) continue;
        MemcgSnapshot s = snap(tree, id(static_cast<int>(i)));
        ASSERT_EQ(s.current, x.current) << "node " << i;
        ASSERT_EQ(s.peak, x.peak) << "node " << i;
        ASSERT_EQ(s.swap_current, x.swap) << "node " << i;
        ASSERT_EQ(s.events_local[Event::max], x.max_events) << "node " << i;
        ASSERT_EQ(s.events_local[Event::high], x.high_events) << "node " << i;
        ASSERT_EQ(s.events_local[Event::swap_max], x.swap_max_events) << "node " << i;
      }
    }
  }
  EXPECT_GT(refused_creates, 0);
  EXPECT_GT(removed, 0);
  EXPECT_GT(refused_removes, 0);
  EXPECT_GT(refused_charges, 0);
  EXPECT_GT(forced_over, 0);
  EXPECT_GT(refused_uncharges, 0);
  EXPECT_GT(refused_max, 0);
  EXPECT_GT(refused_swap, 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, MemcgModelCheck, ::testing::Values(1u, 2u, 3u, 42u, 20240601u));

// Three fault threads charge and uncharge their own guests under one group whose max the
// control plane keeps moving; a reader takes snapshots and audits. Every snapshot must show
// the group within its max (only try_charge is used), and at the end each guest's current
// must be what its thread charged.
TEST(MemcgConcurrency, FaultThreadsControlPlaneAndReaders) {
  MemcgTree tree;
  MemcgId group = test::must(tree.create_group(kRootId, "tenant"));
  constexpr int kThreads = 3;
  std::vector<MemcgId> guests;
  for (int i = 0; i < kThreads; ++i) guests.push_back(test::must(tree.create_guest(group, "vm" + std::to_string(i))));
  ASSERT_OK(tree.set_limit(group, Limit::max, 300));
  ASSERT_OK(tree.set_limit(group, Limit::high, 200));

  std::atomic<bool> stop{false};
  std::vector<uint64_t> held(kThreads, 0);
  std::vector<std::thread> faulters;
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> audits{0};
  std::atomic<uint64_t> limit_writes{0};
  for (int i = 0; i < kThreads; ++i) {
    faulters.emplace_back([&, i] {
      std::mt19937 rng(static_cast<uint32_t>(i + 7));
      // Long enough for the other threads to interleave, however the scheduler runs them.
      for (int k = 0; k < 20000 || audits < 50 || limit_writes < 200; ++k) {
        const uint64_t pages = 1 + rng() % 16;
        if (rng() % 3 != 0) {
          auto r = tree.try_charge(guests[static_cast<size_t>(i)], pages);
          ASSERT_TRUE(r);
          if (r->charged) {
            held[static_cast<size_t>(i)] += pages;
          } else {
            ++refused;
          }
        } else if (held[static_cast<size_t>(i)] >= pages) {
          ASSERT_OK(tree.uncharge(guests[static_cast<size_t>(i)], pages));
          held[static_cast<size_t>(i)] -= pages;
        }
      }
    });
  }
  std::thread control([&] {
    uint64_t v = 0;
    while (!stop) {
      (void)tree.set_limit(group, Limit::max, 100 + (v++ % 5) * 60);  // lowering may be refused
      (void)tree.set_limit(group, Limit::high, 50 + (v % 7) * 30);
      ++limit_writes;
      std::this_thread::yield();
    }
  });
  std::thread reader([&] {
    while (!stop) {
      auto all = tree.snapshot_all();
      ASSERT_EQ(all.size(), 2u + kThreads);
      ASSERT_LE(all[1].current, all[1].settings.max);
      uint64_t sum = 0;
      for (size_t k = 2; k < all.size(); ++k) sum += all[k].current;
      ASSERT_EQ(sum, all[1].current);  // one instant
      ASSERT_AUDIT(tree);
      ++audits;
    }
  });
  for (auto& f : faulters) f.join();
  stop = true;
  control.join();
  reader.join();
  ASSERT_AUDIT(tree);
  uint64_t total = 0;
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(test::current(tree, guests[static_cast<size_t>(i)]), held[static_cast<size_t>(i)]);
    total += held[static_cast<size_t>(i)];
  }
  EXPECT_EQ(test::current(tree, group), total);
  EXPECT_GT(refused.load(), 0u);  // the limits did bite
  EXPECT_GT(audits.load(), 0u);
}

}  // namespace
}  // namespace tide::gmm::memcg
