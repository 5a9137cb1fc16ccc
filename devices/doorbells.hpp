// Doorbells: guest MMIO writes that the VMM turns into events without a vCPU exit to user
// space (KVM ioeventfd). A device registers the address of each queue notification; the
// callback runs on the VMM's event thread. The VMM implements this (vmm/); tests fake it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "guestmm/base/error.hpp"

namespace tide::dev {

class DoorbellRegistry {
 public:
  virtual ~DoorbellRegistry() = default;
  // A guest write of exactly `len` bytes (1, 2, 4 or 8) at `gpa` — and equal to `datamatch`
  // when given — calls `on_ring` on the event thread. Returns an id for remove(). Thread: any.
  [[nodiscard]] virtual Result<uint64_t> add(uint64_t gpa, uint32_t len,
                                             std::optional<uint64_t> datamatch,
                                             std::function<void()> on_ring) = 0;
  // Unregisters; after it returns, `on_ring` of that doorbell is not called again.
  virtual void remove(uint64_t id) = 0;
};

}  // namespace tide::dev
