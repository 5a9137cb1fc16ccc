// WordArray: a growable array of 64-bit words in page-allocator memory (the kernel has no
// heap). Storage is one block, doubled (next order) and copied when full. Owns it:
// release() or the destructor frees it, abandon() forgets it (leaves it allocated).
// Boot CPU only, like the page allocator.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/string.hpp"
#include "mm/buddy.hpp"

namespace tg::mm {

class WordArray {
 public:
  WordArray() = default;
  WordArray(const WordArray&) = delete;
  WordArray& operator=(const WordArray&) = delete;
  ~WordArray() { release(); }

  // False when the page allocator cannot supply a larger block (the array is unchanged).
  bool push(uint64_t value) {
    if (size_ == capacity_ && !grow()) return false;
    data_[size_++] = value;
    return true;
  }
  // New elements are not initialised. False when out of memory.
  bool resize(size_t size) {
    while (capacity_ < size) {
      if (!grow()) return false;
    }
    size_ = size;
    return true;
  }
  size_t size() const { return size_; }
  uint64_t& operator[](size_t i) { return data_[i]; }
  uint64_t operator[](size_t i) const { return data_[i]; }
  uint64_t* data() { return data_; }
  // Forgets the storage without freeing it.
  void abandon() {
    data_ = nullptr;
    size_ = 0;
    capacity_ = 0;
  }
  void release() {
    if (data_ != nullptr) free_pages(reinterpret_cast<uint64_t>(data_), order_);
    abandon();
  }

 private:
  bool grow() {
    unsigned order = data_ == nullptr ? 0 : order_ + 1;
    uint64_t fresh = alloc_pages(order);
    if (fresh == 0) return false;
    if (data_ != nullptr) {
      memcpy(reinterpret_cast<void*>(fresh), data_, size_ * sizeof(uint64_t));
      free_pages(reinterpret_cast<uint64_t>(data_), order_);
    }
    data_ = reinterpret_cast<uint64_t*>(fresh);
    order_ = order;
    capacity_ = (kPageSize << order) / sizeof(uint64_t);
    return true;
  }

  uint64_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  unsigned order_ = 0;
};

}  // namespace tg::mm
