// FakeHostMemory: a faithful, vector-backed stand-in for the host layer of guestmm
// (host::HostMemory, PoolBacking, WindowBacking), so the whole memory manager runs in unit
// tests without memfd, mmap or userfaultfd.
//   FakePool    pool bytes plus one "present" bit per page (the page holds host memory).
//               punch() clears present, counts one call per range and, like the kernel,
//               drops every window PTE that views a punched page. An absent page's bytes
//               hold a poison pattern (on Linux they read as zeroes): a write through the
//               pool map, which on Linux gives the page memory again, shows up as changed
//               poison and makes the page present; a manager reading a page it should not
//               touch sees poison, not plausible zeroes.
//   FakeWindow  per window page: the pool page it views (none = the anonymous placeholder)
//               and whether it has a PTE. fill_zero gives absent pool pages zeroed memory
//               (present pages are skipped without a PTE, as EEXIST), fill_present needs the
//               pool page present (else fails like UFFDIO_CONTINUE), zap drops PTEs.
// Every operation can be armed to fail (fail_next). Misaligned or out-of-range calls are
// refused with EINVAL and remembered, so check() reports a manager that made one.
// Thread-safe: one mutex guards the pool and every window. The FakeHostMemory must outlive
// the pool and windows it creates (declare it before the MemoryManager).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <new>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "guestmm/guest_mm.hpp"
#include "guestmm/host/host_memory.hpp"
#include "guestmm/host/mapping.hpp"
#include "guestmm/memory_manager.hpp"

namespace tide::gmm::fake {

enum class HostOp : uint8_t {
  create_pool,
  create_window,
  map_frames,
  fill_zero,
  fill_present,
  fill_copy,
  zap,
  punch,
  snapshot,
  read_fault,
  retire,
};
inline constexpr size_t kHostOps = 11;
[[nodiscard]] const char* host_op_name(HostOp op);

class FakeHostMemory;
class FakeWindow;

class FakePool final : public host::PoolBacking {
 public:
  FakePool(FakeHostMemory& host, uint64_t size_bytes);
  ~FakePool() override;
  FakePool(const FakePool&) = delete;
  FakePool& operator=(const FakePool&) = delete;

  uint64_t size_bytes() const override { return size_bytes_; }
  std::byte* map() const override { return bytes_.get(); }
  Status punch(std::span<const host::ByteRange> ranges) override;
  uint64_t resident_bytes() const override;
  uint64_t punch_calls() const override;

  [[nodiscard]] uint64_t nr_pages() const { return size_bytes_ / kPageSize; }
  [[nodiscard]] bool present(uint64_t page) const;
  [[nodiscard]] uint64_t present_pages() const;
  [[nodiscard]] std::vector<uint8_t> present_map() const;  // one entry per page
  // punch() invocations that succeeded, and the ranges of the last one.
  [[nodiscard]] uint64_t punch_invocations() const;
  [[nodiscard]] std::vector<host::ByteRange> last_punch() const;

 private:
  friend class FakeWindow;
  friend class FakeHostMemory;
  static constexpr std::byte kPoison{0x6b};
  // Requires the host lock. Whether the page holds memory, counting writes through map().
  [[nodiscard]] bool present_locked(uint64_t page) const;
  void make_absent_locked(uint64_t first, uint64_t end);

  FakeHostMemory& host_;
  uint64_t size_bytes_;
  // Page-aligned, like a real pool map (O_DIRECT swap I/O from pool frames needs it).
  struct AlignedFree {
    void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(kPageSize)); }
  };
  std::unique_ptr<std::byte[], AlignedFree> bytes_;
  mutable std::vector<uint8_t> present_;  // updated lazily from writes through map()
  std::vector<FakeWindow*> windows_;  // windows viewing this pool (they unregister)
  uint64_t punch_calls_ = 0;
  uint64_t punch_invocations_ = 0;
  std::vector<host::ByteRange> last_punch_;
};

class FakeWindow final : public host::WindowBacking {
 public:
  FakeWindow(FakeHostMemory& host, FakePool& pool, host::Mapping reserved);
  ~FakeWindow() override;
  FakeWindow(const FakeWindow&) = delete;
  FakeWindow& operator=(const FakeWindow&) = delete;

  // The fake window of a guest created through a FakeHostMemory.
  [[nodiscard]] static FakeWindow& of(GuestMm& guest);

  std::byte* base() const override { return reserved_.data(); }
  uint64_t size_bytes() const override { return reserved_.size_bytes(); }
  int fault_fd() const override { return -1; }
  Result<std::optional<host::WindowFault>> read_fault() override;
  Status map_frames(uint64_t win_off, uint64_t pool_off, uint64_t len) override;
  Status fill_zero(uint64_t win_off, uint64_t len) override;
  Status fill_present(uint64_t win_off, uint64_t len) override;
  Status fill_copy(uint64_t win_off, std::span<const std::byte> data) override;
  Status wake(uint64_t win_off, uint64_t len) override;
  Status zap(std::span<const host::ByteRange> ranges) override;
  // Like the Linux window: every page becomes inert anonymous memory (zeroes, no fault,
  // no view of the pool); later fills and maps fail.
  Status retire() override;
  Result<std::optional<uint64_t>> pool_offset_at(uint64_t win_off) const override;
  Status snapshot_mappings() override;

  // Test view of the window, page by page (window page index = P2M index).
  [[nodiscard]] uint64_t nr_pages() const { return pages_.size(); }
  [[nodiscard]] std::optional<uint64_t> view(uint64_t page) const;  // pool page viewed
  [[nodiscard]] bool has_pte(uint64_t page) const;
  struct PageView {
    std::optional<uint64_t> view;
    bool pte = false;
  };
  [[nodiscard]] std::vector<PageView> page_views() const;  // every page at once
  // Corrupts the view table (audit tests): the page now views `pool_page` (no PTE).
  void set_view(uint64_t page, std::optional<uint64_t> pool_page);
  void push_fault(host::WindowFault fault);

  // A vCPU access through the PTE: false if the page has none (the access would fault).
  [[nodiscard]] bool write_page(uint64_t page, uint8_t value);
  // The page's bytes if it has a PTE.
  [[nodiscard]] std::optional<std::vector<std::byte>> read_page(uint64_t page) const;
  // Whether an access now would be a minor fault (the view's pool page is present).
  [[nodiscard]] bool would_be_minor(uint64_t page) const;

 private:
  friend class FakePool;
  friend class FakeHostMemory;
  struct Page {
    uint64_t view = kNoView;  // pool page, or kNoView for the anonymous placeholder
    bool pte = false;
  };
  static constexpr uint64_t kNoView = UINT64_MAX;

  [[nodiscard]] bool in_bounds(uint64_t win_off, uint64_t len) const;
  std::byte* page_bytes_locked(uint64_t page);

  FakeHostMemory& host_;
  FakePool& pool_;
  host::Mapping reserved_;  // real, non-aliasing addresses for regions(); never touched
  std::vector<Page> pages_;
  std::map<uint64_t, std::vector<std::byte>> anon_;  // placeholder pages filled with zeroes
  std::deque<host::WindowFault> faults_;
  bool retired_ = false;
};

class FakeHostMemory final : public host::HostMemory {
 public:
  FakeHostMemory() = default;
  FakeHostMemory(const FakeHostMemory&) = delete;
  FakeHostMemory& operator=(const FakeHostMemory&) = delete;

  Result<std::unique_ptr<host::PoolBacking>> create_pool(uint64_t size_bytes) override;
  Result<std::unique_ptr<host::WindowBacking>> create_window(host::PoolBacking& pool, uint64_t size_bytes) override;

  // The next `count` calls of `op` fail with `code` (without doing anything).
  void fail_next(HostOp op, unsigned count = 1, std::errc code = std::errc::io_error);
  // The next call of `op` does its first `units` pages (fills, zap) or ranges (punch), then
  // fails: a system call that made partial progress.
  void fail_next_partway(HostOp op, uint64_t units, std::errc code = std::errc::io_error);
  void clear_failures();
  // Calls of `op` so far (failed ones included), and how many were made to fail.
  [[nodiscard]] uint64_t calls(HostOp op) const;
  [[nodiscard]] uint64_t failures(HostOp op) const;

  [[nodiscard]] FakePool* pool() const;  // the live pool, if any

  // The fake's own consistency: no refused (misaligned/out-of-range) call was made, and
  // every window PTE that views the pool views a present page.
  [[nodiscard]] Status check() const;

 private:
  friend class FakePool;
  friend class FakeWindow;
  struct Arm {
    unsigned remaining = 0;
    std::errc code = std::errc::io_error;
    uint64_t partway = 0;  // units done before failing
  };
  struct Verdict {
    bool fail = false;
    uint64_t done_first = 0;  // units to do before failing
    std::errc code{};
  };
  // Requires mu_. Counts the call and consumes an armed failure.
  [[nodiscard]] Verdict enter_locked(HostOp op);
  // Requires mu_. Counts the call and fails it outright if armed.
  [[nodiscard]] Status enter_simple_locked(HostOp op);
  [[nodiscard]] static Error injected(HostOp op, std::errc code);
  [[nodiscard]] Error refuse_locked(HostOp op, const std::string& what);

  mutable std::mutex mu_;
  std::array<Arm, kHostOps> armed_{};
  std::array<uint64_t, kHostOps> calls_{};
  std::array<uint64_t, kHostOps> failures_{};
  std::vector<std::string> refused_;
  FakePool* pool_ = nullptr;
};

// ---- a vCPU's view of guest memory, over the fake ----

// Writes `value` to every byte of `gfn` the way a vCPU does: through the PTE if the page has
// one, else the fault goes to handle_fault() and the access is retried. Errors: the fault's
// error (pool exhausted, host failure), or no PTE after a few faults.
[[nodiscard]] Status touch(GuestMm& guest, Gfn gfn, uint8_t value);
// Reads `gfn` the same way; the page must hold one value in every byte (touch() writes
// whole pages), else an error reports the mixed contents.
[[nodiscard]] Result<uint8_t> read(GuestMm& guest, Gfn gfn);

// Checks that go past MemoryManager::check_invariants(), with the fake's knowledge of PTEs
// and of host memory:
//   - the fake's own check();
//   - every window PTE views the frame the P2M names Present at that page (a PTE on a
//     frameless page is a view of memory the guest gave back: a leak between guests);
//   - every Present frame's pool page holds memory, and only frames flagged resident
//     (mapped or hot) hold memory (free and cached frames were punched);
//   - free + cached + hot + used == total in PoolStats, and used == sum of residents.
[[nodiscard]] Status check_host_view(MemoryManager& mm, FakeHostMemory& host, std::span<GuestMm* const> guests);
// MemoryManager::check_invariants() and check_host_view() together.
[[nodiscard]] Status check_all(MemoryManager& mm, FakeHostMemory& host, std::span<GuestMm* const> guests);

}  // namespace tide::gmm::fake
