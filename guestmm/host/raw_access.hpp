// Typed atomic access to raw host bytes that a guest shares (virtqueue indices, flags).
// Callers (GuestMemory) have already checked bounds and natural alignment.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tide::gmm::host {

// Safe: `p` is inside a live guest RAM mapping and 2-byte aligned (checked by the caller),
// which is all std::atomic_ref<uint16_t> requires.
inline uint16_t load_acquire_u16(std::byte* p) {
  return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).load(std::memory_order_acquire);
}
inline void store_release_u16(std::byte* p, uint16_t v) {
  std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).store(v, std::memory_order_release);
}

}  // namespace tide::gmm::host
