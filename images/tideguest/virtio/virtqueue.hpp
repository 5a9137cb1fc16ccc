// Virtqueue: the driver side of one split virtqueue (VIRTIO 1.2, 2.7). The descriptor
// table, available ring and used ring live in pages from the page allocator (identity
// mapped, so their addresses are also the device's DMA addresses). Free descriptors are
// chained through their `next` fields. The queue never waits: callers publish, notify
// the device through the transport, then poll take_used() between wait_us() calls.
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
  // Pops one used element if the device returned any; frees its descriptors.
  bool take_used(uint32_t* id, uint32_t* length);
  uint16_t free_descriptors() const { return num_free_; }

 private:
  virtq_desc* desc_ = nullptr;
  virtq_avail* avail_ = nullptr;
  virtq_used* used_ = nullptr;
  uint64_t pages_[3] = {};
  unsigned orders_[3] = {};
  uint16_t size_ = 0;
  uint16_t free_head_ = 0;
  uint16_t num_free_ = 0;
  uint16_t last_used_ = 0;
};

}  // namespace tg::virtio
