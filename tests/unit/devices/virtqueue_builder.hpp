// VirtqueueBuilder: plays the guest driver's half of a split virtqueue in fake memory:
// writes descriptors (direct or in indirect tables), publishes heads in the available
// ring, and reads back the used ring. It writes whatever it is told, so tests can build
// every malformed layout a hostile guest could.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/virtio/queue.hpp"
#include "devices/virtio/virtio_spec.hpp"
#include "unit/devices/fake_guest_memory.hpp"

namespace tide::dev::test {

struct Buf {
  uint64_t addr;
  uint32_t len;
  bool writable = false;
};

class VirtqueueBuilder {
 public:
  // Rings at explicit addresses (possibly misaligned or outside RAM, on purpose).
  VirtqueueBuilder(FakeGuestMemory& mem, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
      : mem_(&mem), size_(size), desc_(desc), avail_(avail), used_(used) {}
  // A well-formed layout starting at `base` (page aligned): desc, avail, then used.
  static VirtqueueBuilder at(FakeGuestMemory& mem, uint16_t size, uint64_t base) {
    uint64_t desc = base;
    uint64_t avail = desc + 16ull * size;
    uint64_t used = (avail + 6 + 2ull * size + 3) & ~3ull;
    return VirtqueueBuilder(mem, size, desc, avail, used);
  }

  // Configures `q` the way the transport does after the driver's register writes.
  void configure(Queue& q, bool event_idx = false, bool indirect = false) const {
    q.set_size(size_);
    q.set_desc_table(gmm::Gpa(desc_));
    q.set_avail_ring(gmm::Gpa(avail_));
    q.set_used_ring(gmm::Gpa(used_));
    q.set_ring_features(event_idx, indirect);
    q.set_ready(true);
  }

  void set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    mem_->put(desc_ + 16ull * index, VirtqDesc{addr, len, flags, next});
  }
  // Writes `bufs` as a chain in consecutive free descriptors and returns its head.
  uint16_t write_chain(const std::vector<Buf>& bufs) {
    uint16_t head = next_free_;
    for (size_t i = 0; i < bufs.size(); ++i) {
      uint16_t index = static_cast<uint16_t>((next_free_ + i) % size_);
      bool last = i + 1 == bufs.size();
      uint16_t flags =
          static_cast<uint16_t>((bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT));
      set_desc(index, bufs[i].addr, bufs[i].len, flags, static_cast<uint16_t>((index + 1) % size_));
    }
    next_free_ = static_cast<uint16_t>((next_free_ + bufs.size()) % size_);
    return head;
  }
  // Writes an indirect table at `table_gpa` and returns its descriptors' byte length.
  uint32_t write_indirect_table(uint64_t table_gpa, const std::vector<VirtqDesc>& descs) {
    for (size_t i = 0; i < descs.size(); ++i) mem_->put(table_gpa + 16 * i, descs[i]);
    return static_cast<uint32_t>(16 * descs.size());
  }
  // Puts `head` in the next available slot and bumps avail idx.
  void publish(uint16_t head) {
    uint16_t idx = avail_idx();
    mem_->put<uint16_t>(avail_ + 4 + 2ull * (idx % size_), head);
    set_avail_idx(static_cast<uint16_t>(idx + 1));
  }
  uint16_t add_chain(const std::vector<Buf>& bufs) {
    uint16_t head = write_chain(bufs);
    publish(head);
    return head;
  }

  void set_avail_idx(uint16_t idx) { mem_->put<uint16_t>(avail_ + 2, idx); }
  [[nodiscard]] uint16_t avail_idx() { return mem_->get<uint16_t>(avail_ + 2); }
  void set_avail_flags(uint16_t flags) { mem_->put<uint16_t>(avail_, flags); }
  void set_used_event(uint16_t v) { mem_->put<uint16_t>(avail_ + 4 + 2ull * size_, v); }
  [[nodiscard]] uint16_t used_idx() { return mem_->get<uint16_t>(used_ + 2); }
  [[nodiscard]] VirtqUsedElem used(uint16_t i) { return mem_->get<VirtqUsedElem>(used_ + 4 + 8ull * (i % size_)); }
  [[nodiscard]] uint16_t avail_event() { return mem_->get<uint16_t>(used_ + 4 + 8ull * size_); }

  [[nodiscard]] uint16_t size() const { return size_; }
  [[nodiscard]] uint64_t desc() const { return desc_; }
  [[nodiscard]] uint64_t avail() const { return avail_; }
  [[nodiscard]] uint64_t used() const { return used_; }

 private:
  FakeGuestMemory* mem_;
  uint16_t size_;
  uint64_t desc_;
  uint64_t avail_;
  uint64_t used_;
  uint16_t next_free_ = 0;
};

}  // namespace tide::dev::test
