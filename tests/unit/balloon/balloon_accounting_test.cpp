// Unit: BalloonAccounting's excess rule — fills, host-requested deflates, Linux balloon
// compaction (inflate new + deflate old), OOM and unrequested deflates, target changes
// forgiving excess, and the invariant E <= max(0, size - target) after every step.
#include "balloon/balloon_accounting.hpp"

#include <gtest/gtest.h>

#include <random>

namespace tide::balloon {
namespace {

TEST(BalloonAccounting, AFillUpToTheTargetIsRequested) {
  BalloonAccounting a;
  a.sync_target(0, 100);
  InflateSplit s = a.on_inflate(60, 0, 100);
  EXPECT_EQ(s.requested, 60u);
  EXPECT_EQ(s.unrequested, 0u);
  s = a.on_inflate(40, 60, 100);
  EXPECT_EQ(s.requested, 40u);
  EXPECT_EQ(a.excess(), 0u);
  EXPECT_TRUE(a.check_invariants(100));
}

TEST(BalloonAccounting, InflatesPastTheTargetAreUnrequested) {
  BalloonAccounting a;
  InflateSplit s = a.on_inflate(10, 95, 100);
  EXPECT_EQ(s.requested, 5u);
  EXPECT_EQ(s.unrequested, 5u);
  EXPECT_EQ(a.excess(), 5u);
  EXPECT_TRUE(a.check_invariants(105));
}

TEST(BalloonAccounting, CompactionIsAnInflateThenADeflateAtTarget) {
  BalloonAccounting a;
  (void)a.on_inflate(100, 0, 100);
  for (int i = 0; i < 3; ++i) {  // three migrations, one page each
    a.sync_target(100, 100);
    EXPECT_EQ(a.on_inflate(1, 100, 100).unrequested, 1u);
    a.sync_target(101, 100);
    DeflateSplit d = a.on_deflate(1, 101, 100, true);
    EXPECT_EQ(d.migrated, 1u);
    EXPECT_EQ(d.total(), 1u);
    EXPECT_EQ(a.excess(), 0u);
    EXPECT_TRUE(a.check_invariants(100));
  }
}

TEST(BalloonAccounting, ALoweredTargetMakesDeflatesRequested) {
  BalloonAccounting a;
  (void)a.on_inflate(100, 0, 100);
  a.sync_target(100, 100);
  DeflateSplit d = a.on_deflate(60, 100, 40, false);
  EXPECT_EQ(d.requested, 60u);
  EXPECT_EQ(d.migrated + d.oom + d.unrequested, 0u);
  EXPECT_TRUE(a.check_invariants(40));
}

TEST(BalloonAccounting, DeflatesBelowTheTargetAreOomOrUnrequested) {
  for (bool deflate_on_oom : {true, false}) {
    BalloonAccounting a;
    (void)a.on_inflate(100, 0, 100);
    DeflateSplit d = a.on_deflate(10, 100, 100, deflate_on_oom);
    EXPECT_EQ(d.oom, deflate_on_oom ? 10u : 0u);
    EXPECT_EQ(d.unrequested, deflate_on_oom ? 0u : 10u);
    EXPECT_EQ(d.requested + d.migrated, 0u);
  }
}

TEST(BalloonAccounting, ADeflateConsumesExcessThenRequestThenBelow) {
  BalloonAccounting a;
  (void)a.on_inflate(102, 0, 100);  // 2 beyond the target
  EXPECT_EQ(a.excess(), 2u);
  a.sync_target(102, 100);  // then the host lowers the target to 50
  DeflateSplit d = a.on_deflate(60, 102, 50, true);
  EXPECT_EQ(d.migrated, 2u);
  EXPECT_EQ(d.requested, 50u);
  EXPECT_EQ(d.oom, 8u);
  EXPECT_EQ(d.total(), 60u);
  EXPECT_TRUE(a.check_invariants(42));
}

TEST(BalloonAccounting, ARaisedTargetForgivesExcess) {
  BalloonAccounting a;
  (void)a.on_inflate(105, 0, 100);
  EXPECT_EQ(a.excess(), 5u);
  a.sync_target(105, 103);
  EXPECT_EQ(a.excess(), 2u);
  EXPECT_EQ(a.last_target(), 103u);
  a.sync_target(105, 200);
  EXPECT_EQ(a.excess(), 0u);
  // So a deflate now is not a migration.
  EXPECT_EQ(a.on_deflate(1, 105, 200, true).migrated, 0u);
}

TEST(BalloonAccounting, ResetForgetsEverything) {
  BalloonAccounting a;
  (void)a.on_inflate(10, 0, 0);
  EXPECT_EQ(a.excess(), 10u);
  a.reset();
  EXPECT_EQ(a.excess(), 0u);
  EXPECT_EQ(a.last_target(), 0u);
  EXPECT_TRUE(a.check_invariants(0));
}

TEST(BalloonAccounting, RandomRequestsKeepTheInvariant) {
  std::mt19937_64 rng(7);
  BalloonAccounting a;
  uint64_t size = 0, target = 0, inflated = 0, deflated = 0;
  for (int step = 0; step < 5000; ++step) {
    switch (rng() % 3) {
      case 0: target = rng() % 300; break;
      case 1: {
        a.sync_target(size, target);
        uint64_t n = rng() % 40;
        InflateSplit s = a.on_inflate(n, size, target);
        ASSERT_EQ(s.requested + s.unrequested, n);
        size += n;
        inflated += n;
        break;
      }
      default: {
        a.sync_target(size, target);
        uint64_t n = size == 0 ? 0 : rng() % (size + 1);
        DeflateSplit d = a.on_deflate(n, size, target, rng() % 2);
        ASSERT_EQ(d.total(), n);
        size -= n;
        deflated += n;
        break;
      }
    }
    ASSERT_TRUE(a.check_invariants(size)) << "step " << step;
  }
  EXPECT_EQ(inflated - deflated, size);
}

}  // namespace
}  // namespace tide::balloon
