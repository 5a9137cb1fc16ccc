// Split virtqueue driver side (see virtqueue.hpp).
#include "virtio/virtqueue.hpp"

#include "lib/string.hpp"
#include "mm/buddy.hpp"

namespace tg::virtio {
namespace {

// Orders the ring writes before the index store and the index load before reading the
// ring. x86 keeps stores ordered and loads ordered, so only the compiler needs fencing;
// the full fence is for the store-then-load case (publishing, then reading used flags).
inline void full_fence() { asm volatile("lock addl $0, (%%rsp)" ::: "memory", "cc"); }
inline void compiler_fence() { asm volatile("" ::: "memory"); }

}  // namespace

bool Virtqueue::init(uint16_t size) {
  if (size == 0 || size > kMaxSize || (size & (size - 1)) != 0) return false;
  const uint64_t bytes[3] = {
      sizeof(virtq_desc) * size,
      sizeof(uint16_t) * (3 + uint64_t{size}),
      sizeof(uint16_t) * 3 + sizeof(virtq_used_elem) * uint64_t{size},
  };
  for (int i = 0; i < 3; ++i) {
    orders_[i] = mm::order_for_bytes(bytes[i]);
    pages_[i] = mm::alloc_pages(orders_[i]);
    if (pages_[i] == 0) {
      release();
      return false;
    }
    memset(reinterpret_cast<void*>(pages_[i]), 0, mm::kPageSize << orders_[i]);
  }
  desc_ = reinterpret_cast<virtq_desc*>(pages_[0]);
  avail_ = reinterpret_cast<virtq_avail*>(pages_[1]);
  used_ = reinterpret_cast<virtq_used*>(pages_[2]);
  size_ = size;
  for (uint16_t i = 0; i < size; ++i) {
    next_[i] = static_cast<uint16_t>(i + 1);
    chain_length_[i] = 0;
  }
  free_head_ = 0;
  num_free_ = size;
  last_used_ = 0;
  return true;
}

void Virtqueue::release() {
  for (int i = 0; i < 3; ++i) {
    if (pages_[i] != 0) mm::free_pages(pages_[i], orders_[i]);
    pages_[i] = 0;
  }
  desc_ = nullptr;
  avail_ = nullptr;
  used_ = nullptr;
  size_ = 0;
}

void Virtqueue::take_descriptors(size_t count, uint16_t* ids) {
  uint16_t id = free_head_;
  for (size_t i = 0; i < count; ++i) {
    ids[i] = id;
    id = next_[id];
  }
  free_head_ = id;
  num_free_ = static_cast<uint16_t>(num_free_ - count);
  chain_length_[ids[0]] = static_cast<uint16_t>(count);
}

void Virtqueue::publish(uint16_t head) {
  const uint16_t idx = avail_->idx;
  avail_->ring[idx & (size_ - 1)] = head;
  compiler_fence();  // descriptors and ring entry before the index
  *static_cast<volatile uint16_t*>(&avail_->idx) = static_cast<uint16_t>(idx + 1);
  full_fence();  // index visible before the caller's notify
}

int Virtqueue::submit(const VirtqBuffer* buffers, size_t count) {
  if (count == 0 || count > num_free_) return -1;
  uint16_t ids[kMaxSize];
  take_descriptors(count, ids);
  for (size_t i = 0; i < count; ++i) {
    virtq_desc& d = desc_[ids[i]];
    d.addr = buffers[i].address;
    d.len = buffers[i].length;
    d.flags = static_cast<uint16_t>((buffers[i].device_writable ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0));
    d.next = i + 1 < count ? ids[i + 1] : 0;
  }
  publish(ids[0]);
  return ids[0];
}

int Virtqueue::submit_raw(const virtq_desc* descriptors, size_t count) {
  if (count == 0 || count > num_free_) return -1;
  uint16_t ids[kMaxSize];
  take_descriptors(count, ids);
  for (size_t i = 0; i < count; ++i) {
    virtq_desc& d = desc_[ids[i]];
    d = descriptors[i];
    if (descriptors[i].next < count) d.next = ids[descriptors[i].next];
  }
  publish(ids[0]);
  return ids[0];
}

void Virtqueue::bump_avail_index(uint16_t delta) {
  const uint16_t idx = avail_->idx;
  *static_cast<volatile uint16_t*>(&avail_->idx) = static_cast<uint16_t>(idx + delta);
  full_fence();
}

bool Virtqueue::take_used(uint32_t* id, uint32_t* length) {
  const uint16_t used_idx = *static_cast<volatile uint16_t*>(&used_->idx);
  if (used_idx == last_used_) return false;
  compiler_fence();  // index before the element it covers
  const virtq_used_elem& e = used_->ring[last_used_ & (size_ - 1)];
  *id = e.id;
  *length = e.len;
  ++last_used_;
  if (!outstanding(*id)) {  // device bug: report it to the caller, free nothing
    ++bogus_used_;
    return true;
  }
  // Return the chain (as the driver recorded it) to the free list.
  const uint16_t head = static_cast<uint16_t>(*id);
  const uint16_t n = chain_length_[head];
  uint16_t tail = head;
  for (uint16_t i = 1; i < n; ++i) tail = next_[tail];
  next_[tail] = free_head_;
  free_head_ = head;
  chain_length_[head] = 0;
  num_free_ = static_cast<uint16_t>(num_free_ + n);
  return true;
}

}  // namespace tg::virtio
