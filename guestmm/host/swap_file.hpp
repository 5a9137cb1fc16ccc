// The swap-file interface of guestmm: every system call on a guest's swap file goes through
// these classes, so the swap store runs against a fake in tests and can be made to fail.
//
// SwapFile   one guest's swap file: a sparse file of a fixed size (the caller's limit),
//            written and read in whole 4 KiB pages at page-aligned offsets, with freed
//            ranges punched back to the filesystem.
// SwapFiles  creates them. LinuxSwapFiles is the real one.
//
// Location (LinuxSwapFiles): the directory the caller names, else $TIDE_SWAP_DIR, else
// /var/tmp/tide-swap (created 0700; refused if it is a symlink, not ours, or writable by
// others, since /var/tmp is shared). The file is an unnamed O_TMPFILE where the filesystem
// supports it, else it is created O_EXCL as "tide-<guest>-<pid>.swap" and unlinked at once:
// either way no swap file outlives the tide process (a crash included), and no other
// process can open it by name. The filesystem must support punching holes.
//
// I/O: O_DIRECT where the filesystem accepts it, as the kernel's own swap bypasses the page
// cache: a swapped-out page leaves host memory when write_pages() returns instead of
// lingering as page cache charged to tide, and a swap-in does not leave a second copy in
// the page cache. Buffers must therefore be page-aligned (pool frames are); the fake checks
// this too. Where O_DIRECT is refused (tmpfs before Linux 6.6, some FUSE filesystems) the
// file uses buffered I/O and says so (direct_io()).
// No fsync, ever: swap contents mean nothing after tide exits or crashes (the file is
// unlinked and the guest's memory is gone with it), and a read after a completed write sees
// that write with or without O_DIRECT.
// Threads: calls on one SwapFile may run concurrently on disjoint ranges (the syscalls are
// positional); counters are atomic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "guestmm/base/error.hpp"
#include "guestmm/host/host_memory.hpp"

namespace tide::gmm::host {

inline constexpr uint64_t kSwapPageSize = 4096;
// Pages per pwritev/preadv call (UIO_MAXIOV iovecs of one page: 4 MiB).
inline constexpr uint64_t kSwapMaxIoPages = 1024;

// System calls made on a swap file so far (each retry of a short transfer counts).
struct SwapFileCalls {
  uint64_t writes = 0;   // pwritev
  uint64_t reads = 0;    // preadv
  uint64_t punches = 0;  // fallocate(PUNCH_HOLE)
};

class SwapFile {
 public:
  virtual ~SwapFile() = default;
  // The size limit: offsets must stay below it.
  [[nodiscard]] virtual uint64_t size_bytes() const = 0;
  [[nodiscard]] virtual bool direct_io() const = 0;

  // Writes pages[i] (4 KiB each, page-aligned addresses) to file bytes
  // [offset + i * 4 KiB, ...): ceil(n / kSwapMaxIoPages) pwritev calls when nothing is
  // short. Errors: invalid_argument for a misaligned offset or buffer or a range past the
  // size; the filesystem's errors (ENOSPC: the sparse file could not get blocks, EIO). On
  // error the range's contents are unspecified.
  [[nodiscard]] virtual Status write_pages(uint64_t offset, std::span<const std::byte* const> pages) = 0;
  // Reads file bytes [offset + i * 4 KiB, ...) into pages[i] (page-aligned). A page never
  // written, or punched, reads as zeroes. Errors: as write_pages, EIO.
  [[nodiscard]] virtual Status read_pages(uint64_t offset, std::span<std::byte* const> pages) = 0;
  // Returns the ranges' blocks to the filesystem (they read as zeroes after): ranges are
  // sorted and coalesced first, then one fallocate(PUNCH_HOLE|KEEP_SIZE) per merged range.
  // Errors: invalid_argument (misaligned, past the size); the filesystem's errors, after
  // which some ranges may be punched (punching again is harmless).
  [[nodiscard]] virtual Status punch(std::span<const ByteRange> ranges) = 0;

  // Bytes the file occupies on disk now (st_blocks * 512).
  [[nodiscard]] virtual Result<uint64_t> allocated_bytes() const = 0;
  [[nodiscard]] virtual SwapFileCalls calls() const = 0;
};

struct SwapFileSpec {
  std::string guest_name;   // names the file where it gets a name, and error messages
  uint64_t size_bytes = 0;  // the size limit: a non-zero multiple of 4 KiB
  std::string directory;    // empty: default_swap_directory()
  bool allow_tmpfile = true;  // false: always the O_EXCL name, unlinked (tests both ways)
};

class SwapFiles {
 public:
  virtual ~SwapFiles() = default;
  // Errors: bad spec (invalid_argument); the directory is unusable; the filesystem cannot
  // punch holes (operation_not_supported); open/ftruncate failures.
  [[nodiscard]] virtual Result<std::unique_ptr<SwapFile>> create(const SwapFileSpec& spec) = 0;
};

class LinuxSwapFiles final : public SwapFiles {
 public:
  [[nodiscard]] Result<std::unique_ptr<SwapFile>> create(const SwapFileSpec& spec) override;
};

// $TIDE_SWAP_DIR if set and non-empty, else /var/tmp/tide-swap.
[[nodiscard]] std::string default_swap_directory();

// Raw sequential speed of the filesystem under `directory` (empty: the default), for
// benchmarks. Method: an unlinked temporary file there, opened as swap files are (O_DIRECT
// where accepted); write `size_bytes` in 4 MiB pwrite calls from one aligned buffer of
// non-repeating bytes (so a compressing filesystem cannot cheat), then fdatasync, and time
// both together: the write rate is the rate at which data reaches the device. Then read it
// back in 4 MiB pread calls: with O_DIRECT the reads come from the device; without it,
// posix_fadvise(DONTNEED) first drops this file's (clean, synced) pages from the page cache
// — only this file's, as dropping the host's caches is not ours to do. The file is fresh,
// so the writes allocate blocks, as a swap file's first writes do. Each 4 MiB chunk carries
// its index, checked after reading (outside the timing). Errors: as LinuxSwapFiles::create,
// I/O errors, size_bytes not a non-zero multiple of 4 MiB, a chunk read back wrong.
struct SwapThroughput {
  uint64_t bytes = 0;
  double write_seconds = 0;  // pwrite calls + fdatasync
  double read_seconds = 0;
  bool direct_io = false;
  [[nodiscard]] double write_mib_per_s() const;
  [[nodiscard]] double read_mib_per_s() const;
};
[[nodiscard]] Result<SwapThroughput> measure_swap_throughput(const std::string& directory, uint64_t size_bytes);

}  // namespace tide::gmm::host
