// LinuxHostMemory: HostMemory on Linux — a memfd pool, windows made of MAP_FIXED shared
// views of it, and one userfaultfd per window registered for missing faults (anonymous
// placeholder pages of never-mapped GFNs) and for missing+minor faults (pool views), so
// every access to a window page without a host PTE reaches the fault server.
// Batching: punch() and zap() use process_madvise() on the calling process (Linux 6.13+,
// up to 1024 ranges per call) and fall back to one fallocate()/madvise() per range.
#pragma once

#include "guestmm/host/host_memory.hpp"

namespace tide::gmm::host {

class LinuxHostMemory final : public HostMemory {
 public:
  [[nodiscard]] Result<std::unique_ptr<PoolBacking>> create_pool(uint64_t size_bytes) override;
  [[nodiscard]] Result<std::unique_ptr<WindowBacking>> create_window(PoolBacking& pool, uint64_t size_bytes) override;
};

}  // namespace tide::gmm::host
