// Queue: the device side of one split virtqueue (virtio-v1.2 §2.7). The transport
// configures it (size, ring addresses, ready, negotiated ring features); the device pops
// available descriptor chains in a parsed form, returns them through the used ring and
// asks whether the driver wants a notification.
// Every guest access goes through gmm::GuestMemory and every guest mistake is a
// QueueFault: counted on the queue, logged once per queue per kind, survived. A malformed
// chain is consumed and returned with 0 bytes written; an avail index that jumps more than
// the queue size ahead, or rings outside RAM or misaligned, mark the queue broken (pop()
// returns nothing) until reset().
// Threads: configuration from the transport (vCPU) while the queue is not in use by the
// device; pop/add_used/needs_notification from one device thread at a time (the device
// serializes them). Fault counters and broken() may be read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "devices/virtio/virtio_spec.hpp"
#include "guestmm/guest_memory.hpp"
#include "guestmm/types.hpp"

namespace tide::dev {

enum class QueueFault : uint8_t {
  kRingMisaligned,         // desc/avail/used not 16/2/4-byte aligned (§2.7)
  kRingOutOfRam,           // a ring not wholly inside one RAM region
  kAvailIndexJump,         // avail idx more than the queue size ahead of the device
  kDescIndexOutOfRange,    // a head or next index >= queue (or indirect table) size
  kBufferOutOfRam,         // a buffer not wholly inside one RAM region
  kBufferOverflow,         // addr + len wraps, or the chain totals more than 4 GiB
  kChainLoop,              // a descriptor visited twice in one chain
  kChainTooLong,           // more buffers than the queue size (§2.7.5.3.1)
  kWriteBeforeRead,        // a device-readable buffer after a device-writable one (§2.7.4.2)
  kIndirectNotNegotiated,  // VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC
  kIndirectNested,         // VIRTQ_DESC_F_INDIRECT inside an indirect table
  kIndirectWithNext,       // VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT
  kIndirectBadSize,        // table length 0, not a multiple of 16, or above the queue size
  kIndirectOutOfRam,       // indirect table not wholly inside one RAM region
  kCount,
};
inline constexpr size_t kQueueFaultKinds = static_cast<size_t>(QueueFault::kCount);
[[nodiscard]] const char* queue_fault_name(QueueFault fault);

// One buffer of a chain, already checked to lie inside one RAM region.
struct GuestBuffer {
  gmm::Gpa addr;
  uint32_t len = 0;
  bool operator==(const GuestBuffer&) const = default;
};

// A parsed descriptor chain: device-readable buffers, then device-writable ones, each in
// chain order. Return it with Queue::add_used(head, bytes_written).
struct DescriptorChain {
  uint16_t head = 0;
  std::vector<GuestBuffer> readable;
  std::vector<GuestBuffer> writable;

  [[nodiscard]] uint64_t readable_bytes() const;
  [[nodiscard]] uint64_t writable_bytes() const;
};

class Queue {
 public:
  // `max_size`: a power of two <= 32768, the size the device offers. `name` prefixes logs.
  Queue(uint16_t max_size, std::string name);
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // --- Configuration (transport). Changes take effect for the next pop().
  [[nodiscard]] uint16_t max_size() const { return max_size_; }
  [[nodiscard]] uint16_t size() const { return size_; }
  // False (and no change) unless `size` is a power of two in [1, max_size()].
  bool set_size(uint16_t size);
  void set_desc_table(gmm::Gpa gpa);
  void set_avail_ring(gmm::Gpa gpa);
  void set_used_ring(gmm::Gpa gpa);
  [[nodiscard]] gmm::Gpa desc_table() const { return desc_; }
  [[nodiscard]] gmm::Gpa avail_ring() const { return avail_; }
  [[nodiscard]] gmm::Gpa used_ring() const { return used_; }
  void set_ready(bool ready) { ready_ = ready; }
  [[nodiscard]] bool ready() const { return ready_; }
  // Negotiated ring features (VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC).
  void set_ring_features(bool event_idx, bool indirect_desc);
  // Back to the power-on state (size = max, not ready, addresses 0, indices 0, not
  // broken). Fault counters are cumulative and survive it, as does the log-once state.
  void reset();

  // --- Device side.
  // The next well-formed available chain, or nullopt if none (or not ready, or broken).
  // Malformed chains met on the way are consumed: counted, and returned to the driver
  // with 0 bytes written (a head index out of range cannot be returned and is dropped).
  // With VIRTIO_F_EVENT_IDX, publishes avail_event when the ring is found empty.
  [[nodiscard]] std::optional<DescriptorChain> pop(const gmm::GuestMemory& memory);
  // Puts (head, bytes_written) in the used ring and publishes the used index (release).
  void add_used(const gmm::GuestMemory& memory, uint16_t head, uint32_t bytes_written);
  // Whether the driver asked to be notified about the used entries added since the last
  // call (§2.7.7: avail flags, or used_event with VIRTIO_F_EVENT_IDX). A driver that
  // cannot be asked (rings unreadable) gets a notification.
  [[nodiscard]] bool needs_notification(const gmm::GuestMemory& memory);

  [[nodiscard]] uint16_t next_avail() const { return next_avail_; }
  [[nodiscard]] uint16_t next_used() const { return next_used_; }

  // --- Health.
  [[nodiscard]] bool broken() const { return broken_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t fault_count(QueueFault fault) const {
    return faults_[static_cast<size_t>(fault)].load(std::memory_order_relaxed);
  }
  [[nodiscard]] uint64_t total_faults() const;
  [[nodiscard]] const std::string& name() const { return name_; }
  // Size is a power of two within the maximum; loop-detection stamps are consistent.
  // Thread: the device's (or any, while the queue is idle).
  [[nodiscard]] Status check_invariants() const;

 private:
  enum class Layout : uint8_t { kUnchecked, kValid, kInvalid };

  // Counts `fault`, logs it the first time this queue sees that kind.
  void fault(QueueFault fault, const std::string& detail);
  [[nodiscard]] bool check_layout(const gmm::GuestMemory& memory);
  // Parses the chain at `head` into `out`; the first fault found, or nullopt if valid.
  [[nodiscard]] std::optional<QueueFault> parse_chain(const gmm::GuestMemory& memory, uint16_t head,
                                                      DescriptorChain& out, std::string& detail);
  [[nodiscard]] std::optional<QueueFault> parse_indirect(const gmm::GuestMemory& memory, const VirtqDesc& table,
                                                         uint32_t& buffers, uint64_t& total_bytes, DescriptorChain& out,
                                                         std::string& detail);
  [[nodiscard]] std::optional<QueueFault> add_buffer(const gmm::GuestMemory& memory, const VirtqDesc& desc,
                                                     uint32_t& buffers, uint64_t& total_bytes, DescriptorChain& out,
                                                     std::string& detail);

  const uint16_t max_size_;
  const std::string name_;
  uint16_t size_;
  gmm::Gpa desc_;
  gmm::Gpa avail_;
  gmm::Gpa used_;
  bool ready_ = false;
  bool event_idx_ = false;
  bool indirect_desc_ = false;
  Layout layout_ = Layout::kUnchecked;

  uint16_t next_avail_ = 0;
  uint16_t next_used_ = 0;
  uint16_t signalled_used_ = 0;  // next_used_ at the last needs_notification()
  bool signalled_used_valid_ = false;
  bool used_since_check_ = false;

  // Loop detection: a descriptor is visited in this parse when stamp_[i] == epoch_.
  std::vector<uint32_t> stamp_;
  uint32_t epoch_ = 0;

  std::atomic<bool> broken_{false};
  std::array<std::atomic<uint64_t>, kQueueFaultKinds> faults_{};
  std::atomic<uint32_t> logged_{0};
};

}  // namespace tide::dev
