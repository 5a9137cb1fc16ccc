// Unit: CounterSet — fault counts by kind, totals, names for every kind, the derived
// figures of a snapshot.
#include "balloon/balloon_counters.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace tide::balloon {
namespace {

TEST(BalloonCounters, FaultsAreCountedByKind) {
  CounterSet c("t");
  c.fault(BalloonFault::kPfnDuplicate, 3, "x");
  c.fault(BalloonFault::kPfnDuplicate, 2, "y");  // logged once, counted always
  c.fault(BalloonFault::kBackendError, 1, "z");
  c.fault(BalloonFault::kQueueUnused, 0, "nothing");
  BalloonCounters s = c.snapshot();
  EXPECT_EQ(s.fault(BalloonFault::kPfnDuplicate), 5u);
  EXPECT_EQ(s.fault(BalloonFault::kBackendError), 1u);
  EXPECT_EQ(s.fault(BalloonFault::kQueueUnused), 0u);
  EXPECT_EQ(s.total_faults(), 6u);
}

TEST(BalloonCounters, SnapshotDerivesBytesAndNsPerPage) {
  CounterSet c("t");
  EXPECT_EQ(c.snapshot().inflate_ns_per_page(), 0.0);
  CounterSet::add(c.live.frames_released, 3);
  CounterSet::add(c.live.inflate_ns, 1000);
  CounterSet::add(c.live.inflate_timed_pages, 4);
  BalloonCounters s = c.snapshot();
  EXPECT_EQ(s.host_bytes_released, 3u * 4096);
  EXPECT_DOUBLE_EQ(s.inflate_ns_per_page(), 250.0);
}

TEST(BalloonCounters, EveryKindHasItsOwnName) {
  std::set<std::string> names;
  for (size_t i = 0; i < kBalloonFaultKinds; ++i) {
    std::string n = balloon_fault_name(static_cast<BalloonFault>(i));
    EXPECT_NE(n, "unknown") << i;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), kBalloonFaultKinds);
}

}  // namespace
}  // namespace tide::balloon
