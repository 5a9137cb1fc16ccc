#include "balloon/queue_layout.hpp"

#include <array>

#include "balloon/balloon_spec.hpp"

namespace tide::balloon {
namespace {

bool has(uint64_t features, uint32_t bit) { return (features >> bit) & 1u; }

// The roles in declaration order with the feature that makes each exist (none: always).
struct Slot {
  QueueRole role;
  std::optional<uint32_t> feature;
};
constexpr std::array<Slot, 5> kSlots{{
    {QueueRole::kInflate, std::nullopt},
    {QueueRole::kDeflate, std::nullopt},
    {QueueRole::kStats, VIRTIO_BALLOON_F_STATS_VQ},
    {QueueRole::kFreePageHint, VIRTIO_BALLOON_F_FREE_PAGE_HINT},
    {QueueRole::kReporting, VIRTIO_BALLOON_F_PAGE_REPORTING},
}};

bool exists(const Slot& slot, uint64_t features) { return !slot.feature || has(features, *slot.feature); }

}  // namespace

const char* queue_role_name(QueueRole role) {
  switch (role) {
    case QueueRole::kNone: return "none";
    case QueueRole::kInflate: return "inflateq";
    case QueueRole::kDeflate: return "deflateq";
    case QueueRole::kStats: return "statsq";
    case QueueRole::kFreePageHint: return "free_page_vq";
    case QueueRole::kReporting: return "reporting_vq";
  }
  return "unknown";
}

uint16_t declared_queue_count(uint64_t offered_features) {
  uint16_t n = 0;
  for (const Slot& slot : kSlots) n = static_cast<uint16_t>(n + (exists(slot, offered_features) ? 1 : 0));
  return n;
}

QueueRole queue_role(uint16_t index, uint64_t negotiated_features) {
  uint16_t next = 0;
  for (const Slot& slot : kSlots) {
    if (!exists(slot, negotiated_features)) continue;
    if (next == index) return slot.role;
    ++next;
  }
  return QueueRole::kNone;
}

std::optional<uint16_t> queue_index(QueueRole role, uint64_t negotiated_features) {
  uint16_t next = 0;
  for (const Slot& slot : kSlots) {
    if (!exists(slot, negotiated_features)) continue;
    if (slot.role == role) return next;
    ++next;
  }
  return std::nullopt;
}

}  // namespace tide::balloon
