// Unit: queue roles by negotiated features (virtio-v1.2 §5.5.2): the declared count for the
// offered features, and the consecutive numbering a driver uses for the subset it accepts.
#include "balloon/queue_layout.hpp"

#include <gtest/gtest.h>

#include "balloon/balloon_spec.hpp"

namespace tide::balloon {
namespace {

constexpr uint64_t bit(uint32_t b) { return uint64_t{1} << b; }
constexpr uint64_t kStats = bit(VIRTIO_BALLOON_F_STATS_VQ);
constexpr uint64_t kHint = bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
constexpr uint64_t kReport = bit(VIRTIO_BALLOON_F_PAGE_REPORTING);
constexpr uint64_t kOthers = bit(VIRTIO_BALLOON_F_MUST_TELL_HOST) | bit(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);

TEST(QueueLayout, DeclaredCountFollowsTheOptionalQueues) {
  EXPECT_EQ(declared_queue_count(0), 2);
  EXPECT_EQ(declared_queue_count(kOthers), 2) << "features without a queue add none";
  EXPECT_EQ(declared_queue_count(kStats), 3);
  EXPECT_EQ(declared_queue_count(kReport), 3);
  EXPECT_EQ(declared_queue_count(kStats | kReport | kOthers), 4);
  EXPECT_EQ(declared_queue_count(kStats | kHint | kReport), 5);
}

TEST(QueueLayout, EveryFeatureNegotiated) {
  const uint64_t f = kStats | kReport | kOthers;
  EXPECT_EQ(queue_role(0, f), QueueRole::kInflate);
  EXPECT_EQ(queue_role(1, f), QueueRole::kDeflate);
  EXPECT_EQ(queue_role(2, f), QueueRole::kStats);
  EXPECT_EQ(queue_role(3, f), QueueRole::kReporting);
  EXPECT_EQ(queue_role(4, f), QueueRole::kNone);
  EXPECT_EQ(queue_role(UINT16_MAX, f), QueueRole::kNone);
  EXPECT_EQ(queue_index(QueueRole::kReporting, f), 3);
  EXPECT_EQ(queue_index(QueueRole::kFreePageHint, f), std::nullopt);
}

TEST(QueueLayout, ADriverWithoutStatsShiftsReportingDown) {
  // The device offered statsq and reporting_vq; a driver that accepts only reporting
  // numbers it 2 (Linux: a NULL name for statsq, which gets no index).
  const uint64_t f = kReport | kOthers;
  EXPECT_EQ(queue_role(2, f), QueueRole::kReporting);
  EXPECT_EQ(queue_role(3, f), QueueRole::kNone);
  EXPECT_EQ(queue_index(QueueRole::kReporting, f), 2);
  EXPECT_EQ(queue_index(QueueRole::kStats, f), std::nullopt);
}

TEST(QueueLayout, ADriverWithNoOptionalQueueHasTwo) {
  EXPECT_EQ(queue_role(0, 0), QueueRole::kInflate);
  EXPECT_EQ(queue_role(1, 0), QueueRole::kDeflate);
  EXPECT_EQ(queue_role(2, 0), QueueRole::kNone);
  EXPECT_EQ(queue_index(QueueRole::kInflate, 0), 0);
  EXPECT_EQ(queue_index(QueueRole::kDeflate, 0), 1);
  EXPECT_EQ(queue_index(QueueRole::kNone, 0), std::nullopt);
}

TEST(QueueLayout, FreePageHintSitsBetweenStatsAndReporting) {
  EXPECT_EQ(queue_role(3, kStats | kHint | kReport), QueueRole::kFreePageHint);
  EXPECT_EQ(queue_role(4, kStats | kHint | kReport), QueueRole::kReporting);
  EXPECT_EQ(queue_role(2, kHint | kReport), QueueRole::kFreePageHint);
  EXPECT_EQ(queue_role(3, kHint | kReport), QueueRole::kReporting);
}

TEST(QueueLayout, Names) {
  EXPECT_STREQ(queue_role_name(QueueRole::kInflate), "inflateq");
  EXPECT_STREQ(queue_role_name(QueueRole::kReporting), "reporting_vq");
  EXPECT_STREQ(queue_role_name(QueueRole::kNone), "none");
}

}  // namespace
}  // namespace tide::balloon
