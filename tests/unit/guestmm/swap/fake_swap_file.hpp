// FakeSwapFiles / FakeSwapFile: an in-memory stand-in for guestmm's swap-file host layer
// (host::SwapFiles, host::SwapFile), so the swap store runs in unit tests without a disk.
//   FakeSwapFile  one byte vector per page that holds blocks; a page without one is a hole
//                 and reads as zeroes. Calls are counted as the Linux file counts its system
//                 calls: ceil(pages / 1024) per write or read, one per coalesced punch range.
//                 It refuses what O_DIRECT would refuse (misaligned offsets or buffers) and
//                 anything past the size limit with EINVAL, and remembers it for check().
// Every operation can be armed to fail (fail_next), after letting some calls through
// (skip), or part-way through a write (fail_next_partway: the first pages land).
// Thread-safe: one mutex in FakeSwapFiles guards every file it made; it must outlive them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "guestmm/host/swap_file.hpp"

namespace tide::gmm::fake {

enum class SwapOp : uint8_t { create, write, read, punch };
inline constexpr size_t kSwapOps = 4;
[[nodiscard]] const char* swap_op_name(SwapOp op);

class FakeSwapFiles;

class FakeSwapFile final : public host::SwapFile {
 public:
  FakeSwapFile(FakeSwapFiles& files, uint64_t size_bytes);
  ~FakeSwapFile() override;
  FakeSwapFile(const FakeSwapFile&) = delete;
  FakeSwapFile& operator=(const FakeSwapFile&) = delete;

  uint64_t size_bytes() const override { return size_bytes_; }
  bool direct_io() const override { return true; }
  Status write_pages(uint64_t offset, std::span<const std::byte* const> pages) override;
  Status read_pages(uint64_t offset, std::span<std::byte* const> pages) override;
  Status punch(std::span<const host::ByteRange> ranges) override;
  Result<uint64_t> allocated_bytes() const override;
  host::SwapFileCalls calls() const override;

  // Test view, page by page (page = slot).
  [[nodiscard]] uint64_t nr_pages() const { return size_bytes_ / host::kSwapPageSize; }
  [[nodiscard]] bool holds_blocks(uint64_t page) const;
  [[nodiscard]] uint64_t pages_with_blocks() const;
  // The coalesced ranges of every punch() so far, one vector per call that succeeded.
  [[nodiscard]] std::vector<std::vector<host::ByteRange>> punches() const;
  // Flips a byte of a page that holds blocks (bit rot on disk).
  void corrupt(uint64_t page);

 private:
  friend class FakeSwapFiles;
  [[nodiscard]] bool in_bounds(uint64_t offset, uint64_t nr_pages) const;

  FakeSwapFiles& files_;
  const uint64_t size_bytes_;
  std::vector<std::vector<std::byte>> pages_;  // empty = hole
  host::SwapFileCalls calls_{};
  std::vector<std::vector<host::ByteRange>> punches_;
};

class FakeSwapFiles final : public host::SwapFiles {
 public:
  FakeSwapFiles() = default;
  FakeSwapFiles(const FakeSwapFiles&) = delete;
  FakeSwapFiles& operator=(const FakeSwapFiles&) = delete;

  Result<std::unique_ptr<host::SwapFile>> create(const host::SwapFileSpec& spec) override;

  // After `skip` calls of `op` go through, the next `count` fail with `code` having done
  // nothing.
  void fail_next(SwapOp op, unsigned count = 1, std::errc code = std::errc::io_error, unsigned skip = 0);
  // The next write lands its first `pages` pages, then fails (a short write, then an error).
  void fail_next_partway(SwapOp op, uint64_t pages, std::errc code = std::errc::io_error);
  void clear_failures();
  // Calls of `op` so far (failed ones included; not the system-call count), and failures.
  [[nodiscard]] uint64_t calls(SwapOp op) const;
  [[nodiscard]] uint64_t failures(SwapOp op) const;

  [[nodiscard]] FakeSwapFile* file() const;  // the live file, if any
  [[nodiscard]] const host::SwapFileSpec& last_spec() const { return last_spec_; }

  // No refused (misaligned, out-of-range) call was made.
  [[nodiscard]] Status check() const;

 private:
  friend class FakeSwapFile;
  struct Arm {
    unsigned skip = 0;
    unsigned remaining = 0;
    std::errc code = std::errc::io_error;
    uint64_t partway = 0;
  };
  struct Verdict {
    bool fail = false;
    uint64_t done_first = 0;
    std::errc code{};
  };
  // Requires mu_. Counts the call and consumes an armed failure.
  [[nodiscard]] Verdict enter_locked(SwapOp op);
  [[nodiscard]] static Error injected(SwapOp op, std::errc code);
  [[nodiscard]] Error refuse_locked(SwapOp op, const std::string& what);

  mutable std::mutex mu_;
  std::array<Arm, kSwapOps> armed_{};
  std::array<uint64_t, kSwapOps> calls_{};
  std::array<uint64_t, kSwapOps> failures_{};
  std::vector<std::string> refused_;
  FakeSwapFile* file_ = nullptr;
  host::SwapFileSpec last_spec_;
};

}  // namespace tide::gmm::fake
