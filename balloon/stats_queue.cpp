// The statsq protocol (virtio-v1.2 §5.5.6.3): the driver queues one buffer of statistics;
// the device reads it, keeps it, and returns it (used, 0 bytes) when the host wants fresh
// figures; the driver then refills it and queues it again. A second buffer while one is
// held is a driver mistake: the device returns the older one and keeps the newer.
// Runs with the device lock held.
#include "balloon/balloon_device_impl.hpp"
#include "guestmm/base/log.hpp"

namespace tide::balloon {

void BalloonDevice::Impl::receive_stats(const dev::DescriptorChain& chain) {
  if (held_stats_head) {
    counters.fault(BalloonFault::kStatsExtraBuffer, 1,
                   log::strf("stats buffer %u queued while buffer %u was held", chain.head, *held_stats_head));
    (void)return_stats_buffer();
  }
  if (!chain.writable.empty()) {
    counters.fault(BalloonFault::kUnexpectedWritable, chain.writable.size(), "device-writable buffer on statsq");
  }
  // Each buffer carries the driver's whole set; a tag it leaves out is one it does not have.
  GuestStats figures;
  const StatsParseResult parsed = parse_stats_chain(*activation.memory, chain, figures);
  if (parsed.unknown_tags != 0) {
    counters.fault(BalloonFault::kStatsUnknownTag, parsed.unknown_tags, "stats entry with an unknown tag");
  }
  if (parsed.partial_entries != 0) {
    counters.fault(BalloonFault::kStatsPartialEntry, parsed.partial_entries,
                   "stats buffer length not a multiple of 10 bytes");
  }
  if (parsed.skipped_entries != 0) {
    counters.fault(BalloonFault::kStatsTooLarge, parsed.skipped_entries,
                   log::strf("stats buffer with more than %llu entries", static_cast<unsigned long long>(kMaxStatsEntries)));
  }
  figures.updated_ns = options.clock();
  figures.sequence = ++stats_sequence;
  stats = figures;
  held_stats_head = chain.head;
  CounterSet::add(counters.live.stats_buffers, 1);
}

bool BalloonDevice::Impl::return_stats_buffer() {
  if (!held_stats_head) return false;
  dev::Queue* queue = queue_for(QueueRole::kStats);
  const uint16_t head = *held_stats_head;
  held_stats_head.reset();
  if (queue == nullptr) return false;  // cannot happen: held only while the statsq exists
  const gmm::GuestMemory& memory = *activation.memory;
  queue->add_used(memory, head, 0);
  if (queue->needs_notification(memory)) {
    activation.interrupt->notify_queue(*queue_index(QueueRole::kStats, negotiated_features));
  }
  return true;
}

}  // namespace tide::balloon
