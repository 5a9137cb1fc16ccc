// Virtqueue: the driver side of one split virtqueue (VIRTIO 1.2, 2.7). The descriptor
// table, available ring and used ring live in pages from the page allocator (identity
// mapped, so their addresses are also the device's DMA addresses). Which descriptors are
// free and which belong to which outstanding chain is kept in driver-private arrays (as
// Linux's desc_extra), never read back from the shared table: a chain the driver built
// malformed on purpose (submit_raw, for hostile tests) or a device that returns a bogus
// id cannot corrupt the free list. The queue never waits: callers publish, notify the
// device through the transport, then poll take_used() between wait_us() calls.
// Boot CPU only; completion is detected by polling, never inside interrupt handlers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "virtio/virtio_spec.hpp"

namespace tg::virtio {

struct VirtqBuffer {
  uint64_t address;
  uint32_t length;
  bool device_writable;
};

class Virtqueue {
 public:
  static constexpr uint16_t kMaxSize = 256;

  Virtqueue() = default;
  Virtqueue(const Virtqueue&) = delete;
  Virtqueue& operator=(const Virtqueue&) = delete;
  ~Virtqueue() { release(); }

  // Allocates and zeroes the rings for `size` entries (a power of two <= kMaxSize).
  bool init(uint16_t size);
  void release();

  uint16_t size() const { return size_; }
  uint64_t desc_address() const { return reinterpret_cast<uint64_t>(desc_); }
  uint64_t avail_address() const { return reinterpret_cast<uint64_t>(avail_); }
  uint64_t used_address() const { return reinterpret_cast<uint64_t>(used_); }

  // Chains `count` buffers (device-readable ones first) and makes the chain available.
  // Returns the head descriptor id, or -1 when too few descriptors are free.
  int submit(const VirtqBuffer* buffers, size_t count);
  // Takes `count` descriptors and publishes them as one chain exactly as given (addr,
  // len, flags, next), except that a `next` below `count` names the chain's own
  // descriptor of that position and is translated to its table index; any other `next`
  // is written unchanged. For deliberately malformed chains (loops, bad indices).
  // Returns the head id, or -1 when too few descriptors are free.
  int submit_raw(const virtq_desc* descriptors, size_t count);
  // Pops one used element if the device returned any and frees the descriptors of its
  // chain. An id that is not an outstanding chain head is still returned (the caller
  // decides what a device bug means) but frees nothing.
  bool take_used(uint32_t* id, uint32_t* length);
  // Moves the available index by `delta` without publishing anything (hostile tests only:
  // a device must treat it as a fatal driver error; the queue is unusable until reset).
  void bump_avail_index(uint16_t delta);
  // Whether `id` is the head of a chain the device still holds.
  bool outstanding(uint32_t id) const { return id < size_ && chain_length_[id] != 0; }
  uint16_t free_descriptors() const { return num_free_; }
  // Used elements the device returned whose id was not an outstanding head.
  uint64_t bogus_used() const { return bogus_used_; }

 private:
  // Takes `count` descriptors off the free list into ids[] (linked in that order).
  void take_descriptors(size_t count, uint16_t* ids);
  void publish(uint16_t head);

  virtq_desc* desc_ = nullptr;
  virtq_avail* avail_ = nullptr;
  virtq_used* used_ = nullptr;
  uint64_t pages_[3] = {};
  unsigned orders_[3] = {};
  uint16_t size_ = 0;
  uint16_t free_head_ = 0;
  uint16_t num_free_ = 0;
  uint16_t last_used_ = 0;
  uint64_t bogus_used_ = 0;
  uint16_t next_[kMaxSize] = {};          // free list and chain links (driver-private)
  uint16_t chain_length_[kMaxSize] = {};  // at a chain's head: its descriptor count; else 0
};

}  // namespace tg::virtio
