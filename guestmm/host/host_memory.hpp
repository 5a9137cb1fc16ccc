// The host-memory interface of guestmm: every mmap/memfd/fallocate/madvise/userfaultfd
// call the memory manager makes goes through these classes, so tests can run the whole
// manager against a fake and inject failures. LinuxHostMemory is the real one.
//
// PoolBacking   the pool's memfd and its pool map. punch() returns ranges to the host
//               (they read back as zeroes); it is the only way a frame is scrubbed.
// WindowBacking one guest's RAM window: a reserved range whose pages are views of pool
//               frames, registered with one userfaultfd. A page with no host PTE faults to
//               the fault server; fills (zero, present, copy) install pages without waking
//               anyone, so the caller can publish the new state first and then wake().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "guestmm/base/error.hpp"

namespace tide::gmm::host {

// A page-aligned byte range [offset, offset + len) of the pool or of a window.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t len = 0;
  bool operator==(const ByteRange&) const = default;
};

class PoolBacking {
 public:
  virtual ~PoolBacking() = default;
  [[nodiscard]] virtual uint64_t size_bytes() const = 0;
  // The pool map: pool byte `off` is at map() + off. Touching a free (punched) frame
  // through it would give it host memory again, so only frames in use are touched.
  [[nodiscard]] virtual std::byte* map() const = 0;
  // Returns every range to the host. Batched: the implementation makes as few system calls
  // as it can (one per range, or fewer). On error some ranges may be done; punching again
  // is harmless.
  [[nodiscard]] virtual Status punch(std::span<const ByteRange> ranges) = 0;
  // Bytes of the pool that hold host memory now.
  [[nodiscard]] virtual uint64_t resident_bytes() const = 0;
  // How many system calls punch() made in total (for tests and statistics).
  [[nodiscard]] virtual uint64_t punch_calls() const = 0;
};

struct WindowFault {
  uint64_t offset = 0;  // byte offset in the window (page-aligned)
  bool write = false;
  bool minor = false;   // the frame is in the pool but the window page has no PTE
};

class WindowBacking {
 public:
  virtual ~WindowBacking() = default;
  [[nodiscard]] virtual std::byte* base() const = 0;
  [[nodiscard]] virtual uint64_t size_bytes() const = 0;
  // The userfaultfd the fault server polls (or -1 for fakes that are driven directly).
  [[nodiscard]] virtual int fault_fd() const = 0;
  // Reads one pending fault; nullopt when none is pending. Thread: the fault server.
  [[nodiscard]] virtual Result<std::optional<WindowFault>> read_fault() = 0;

  // Makes [win_off, win_off+len) a view of pool bytes [pool_off, pool_off+len), still
  // watched by the userfaultfd (missing and minor faults).
  [[nodiscard]] virtual Status map_frames(uint64_t win_off, uint64_t pool_off, uint64_t len) = 0;
  // Fills a range whose pool pages are absent with zeroed pages (the pool gains them).
  // Pages that are already there are skipped. Wakes nobody.
  [[nodiscard]] virtual Status fill_zero(uint64_t win_off, uint64_t len) = 0;
  // Maps pool pages that already hold data (hot frames). Wakes nobody.
  [[nodiscard]] virtual Status fill_present(uint64_t win_off, uint64_t len) = 0;
  // Fills one absent page with `data` (4 KiB) (swap-in). Wakes nobody.
  [[nodiscard]] virtual Status fill_copy(uint64_t win_off, std::span<const std::byte> data) = 0;
  [[nodiscard]] virtual Status wake(uint64_t win_off, uint64_t len) = 0;
  // Drops the window's PTEs over the ranges (the pool keeps the data); the next access
  // faults as "minor". Batched like PoolBacking::punch.
  [[nodiscard]] virtual Status zap(std::span<const ByteRange> ranges) = 0;

  // Ends the window's life as a view of the pool: replaces it with inert anonymous memory
  // that no userfaultfd watches and wakes every thread blocked in one of its faults (a
  // KVM async-fault worker, a device thread), which then finish on throwaway zero pages
  // instead of waiting forever. Called when the guest is torn down, before its VM is
  // destroyed (KVM waits for its fault workers). Idempotent. Default: nothing to do.
  [[nodiscard]] virtual Status retire() { return ok(); }

  // For audits: the pool offset the window maps at `win_off` according to the kernel, or
  // nullopt when that page is not a view of the pool.
  [[nodiscard]] virtual Result<std::optional<uint64_t>> pool_offset_at(uint64_t win_off) const = 0;
  // Refreshes whatever pool_offset_at() reads (one read of the kernel's mapping list).
  [[nodiscard]] virtual Status snapshot_mappings() = 0;
};

class HostMemory {
 public:
  virtual ~HostMemory() = default;
  [[nodiscard]] virtual Result<std::unique_ptr<PoolBacking>> create_pool(uint64_t size_bytes) = 0;
  [[nodiscard]] virtual Result<std::unique_ptr<WindowBacking>> create_window(PoolBacking& pool,
                                                                              uint64_t size_bytes) = 0;
};

// Coalesces sorted, page-aligned ranges that touch into maximal runs.
[[nodiscard]] std::vector<ByteRange> coalesce(std::vector<ByteRange> ranges);

}  // namespace tide::gmm::host
