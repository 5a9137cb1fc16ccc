// BalloonDevice::Impl: the device's state behind its lock (lifecycle, config fields, the
// bitmap of ballooned pages, accounting, the held stats buffer) and the queue handlers.
// Private to the balloon library: only balloon_device.cpp and the handler files include it.
// Every member is touched only with BalloonDevice::mutex_ held; the handlers are split by
// queue: page_requests.cpp (inflateq, deflateq), free_page_reports.cpp (reporting_vq),
// stats_queue.cpp (statsq).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "balloon/balloon_accounting.hpp"
#include "balloon/balloon_backend.hpp"
#include "balloon/balloon_counters.hpp"
#include "balloon/balloon_device.hpp"
#include "balloon/guest_stats.hpp"
#include "balloon/page_bitmap.hpp"
#include "balloon/queue_layout.hpp"
#include "devices/virtio/virtio_device.hpp"

namespace tide::balloon {

struct BalloonDevice::Impl {
  Impl(BalloonBackend& backend_ref, CounterSet& counters_ref, const BalloonDeviceOptions& options_ref);

  // --- Lifecycle (activate/reset).
  [[nodiscard]] bool negotiated(uint32_t bit) const { return (negotiated_features >> bit) & 1u; }
  [[nodiscard]] QueueRole role_of(uint16_t index) const {
    return index < roles.size() ? roles[index] : QueueRole::kNone;
  }
  // The queue playing `role`, or nullptr if the driver has none.
  [[nodiscard]] dev::Queue* queue_for(QueueRole role) const;
  // Gives every ballooned page back through the backend (reset); the bitmap ends empty.
  void give_back_all();

  // --- Queue handlers. Each pops every available chain of queue `index`, returns the
  // chains it does not keep, and notifies the driver if it asked. True if the device's
  // visible state (balloon, stats) changed.
  bool handle_queue(uint16_t index);
  // inflateq / deflateq: one request (page_requests.cpp). collect_pages() fills `gfns`
  // and `indices` with the request's acceptable pages (in the balloon for a deflate, not
  // in it for an inflate) and counts the rest.
  void collect_pages(const dev::DescriptorChain& chain, bool inflating);
  void inflate(const dev::DescriptorChain& chain);
  void deflate(const dev::DescriptorChain& chain);
  // reporting_vq: one report (free_page_reports.cpp).
  void report(const dev::DescriptorChain& chain);
  // statsq: keeps the chain as the held buffer, returning an older one (stats_queue.cpp).
  void receive_stats(const dev::DescriptorChain& chain);
  // Returns the held stats buffer to the driver; false if none is held.
  bool return_stats_buffer();

  // --- Scratch set of the pages a request names (duplicate detection). mark_seen() is
  // false if the page was marked already; forget_seen() clears exactly the marks made.
  bool mark_seen(uint64_t index);
  void forget_seen();

  // The accounting's view of the target before a request: the highest target since the
  // previous request, then the current one.
  void sync_accounting();

  BalloonBackend& backend;
  CounterSet& counters;
  const BalloonDeviceOptions& options;
  const uint64_t ram_pages;

  bool active = false;
  dev::VirtioActivation activation;
  uint64_t negotiated_features = 0;
  std::vector<QueueRole> roles;  // by queue index, fixed at activation

  uint32_t target_pages = 0;  // num_pages (<= ram_pages)
  uint32_t actual_pages = 0;  // what the driver wrote to `actual`
  uint64_t highest_target = 0;

  PageBitmap balloon;  // pages in the balloon, by BalloonBackend::page_index
  BalloonAccounting accounting;

  std::optional<GuestStats> stats;          // the last stats buffer's figures
  uint64_t stats_sequence = 0;
  std::optional<uint16_t> held_stats_head;  // the driver's stats buffer, kept until request_stats()

  uint64_t change_seq = 0;  // bumped on every visible change (wait_until)

  // Scratch, reused across requests so a request allocates nothing in the steady state.
  PageBitmap seen;
  std::vector<uint64_t> seen_list;
  std::vector<gmm::Gfn> gfns;
  std::vector<uint64_t> indices;
  std::vector<PageRange> ranges;
};

}  // namespace tide::balloon
