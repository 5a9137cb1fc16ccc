// Pool: the VMM's machine memory (ARCHITECTURE.md §3): one memfd sized to the host budget,
// mapped once into the VMM (the pool map), numbered in 4 KiB frames (MFNs) from 0.
// Guests' windows map ranges of it; the pool map always reaches every frame.
#pragma once

#include <cstdint>

#include "guestmm/base/error.hpp"
#include "guestmm/host/mapping.hpp"
#include "guestmm/host/memfd.hpp"
#include "guestmm/types.hpp"

namespace tide::gmm {

class Pool {
 public:
  // A pool of `size_bytes` (rounded up to 2 MiB). Errors: memfd or mapping failures.
  [[nodiscard]] static Result<Pool> create(uint64_t size_bytes);

  [[nodiscard]] uint64_t size_bytes() const { return memfd_.size_bytes(); }
  [[nodiscard]] uint64_t nr_frames() const { return size_bytes() >> kPageShift; }
  [[nodiscard]] const host::Memfd& memfd() const { return memfd_; }
  // The pool map: frame `mfn` is at pool_map() + (mfn << 12).
  [[nodiscard]] std::byte* pool_map() const { return map_.data(); }
  [[nodiscard]] std::byte* frame(Mfn mfn) const { return map_.data() + (mfn.value() << kPageShift); }

 private:
  host::Memfd memfd_;
  host::Mapping map_;
};

}  // namespace tide::gmm
