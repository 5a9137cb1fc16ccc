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
  for (uint16_t i = 0; i < size; ++i) desc_[i].next = static_cast<uint16_t>(i + 1);
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

int Virtqueue::submit(const VirtqBuffer* buffers, size_t count) {
  if (count == 0 || count > num_free_) return -1;
  const uint16_t head = free_head_;
  uint16_t id = head;
  for (size_t i = 0; i < count; ++i) {
    virtq_desc& d = desc_[id];
    d.addr = buffers[i].address;
    d.len = buffers[i].length;
    d.flags = static_cast<uint16_t>((buffers[i].device_writable ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0));
    if (i + 1 < count) id = d.next;
  }
  free_head_ = desc_[id].next;
  num_free_ = static_cast<uint16_t>(num_free_ - count);

  const uint16_t idx = avail_->idx;
  avail_->ring[idx & (size_ - 1)] = head;
  compiler_fence();  // descriptors and ring entry before the index
  *static_cast<volatile uint16_t*>(&avail_->idx) = static_cast<uint16_t>(idx + 1);
  full_fence();  // index visible before the caller's notify
  return head;
}

bool Virtqueue::take_used(uint32_t* id, uint32_t* length) {
  const uint16_t used_idx = *static_cast<volatile uint16_t*>(&used_->idx);
  if (used_idx == last_used_) return false;
  compiler_fence();  // index before the element it covers
  const virtq_used_elem& e = used_->ring[last_used_ & (size_ - 1)];
  *id = e.id;
  *length = e.len;
  ++last_used_;
  if (*id >= size_) return true;  // device bug: report it to the caller, free nothing
  // Return the chain to the free list.
  uint16_t tail = static_cast<uint16_t>(*id);
  uint16_t n = 1;
  while ((desc_[tail].flags & VIRTQ_DESC_F_NEXT) && n < size_) {
    tail = desc_[tail].next;
    ++n;
  }
  desc_[tail].next = free_head_;
  free_head_ = static_cast<uint16_t>(*id);
  num_free_ = static_cast<uint16_t>(num_free_ + n);
  return true;
}

}  // namespace tg::virtio
