#include "guestmm/host/swap_file.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "guestmm/base/log.hpp"
#include "guestmm/base/unique_fd.hpp"
#include "guestmm/host/mapping.hpp"

namespace tide::gmm::host {
namespace {

using ull = unsigned long long;

constexpr const char* kBuiltinSwapDir = "/var/tmp/tide-swap";
constexpr uint64_t kThroughputChunk = kSwapMaxIoPages * kSwapPageSize;  // 4 MiB

bool page_aligned_ptr(const void* p) { return reinterpret_cast<uintptr_t>(p) % kSwapPageSize == 0; }

// Guest names come from domain definitions: keep a file name to a safe alphabet and length.
std::string file_name_part(const std::string& guest) {
  std::string out;
  for (char ch : guest) {
    const bool safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                      ch == '_' || ch == '.';
    out += safe ? ch : '_';
    if (out.size() == 64) break;
  }
  return out.empty() || out[0] == '.' ? "guest" + out : out;
}

// Makes sure `dir` can hold swap files. The built-in default sits in the shared /var/tmp:
// it is created 0700 if missing and must be a real directory of ours that nobody else can
// write, or another user could swap it for a symlink or watch the files come and go.
Status prepare_directory(const std::string& dir, bool builtin) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return errno_error("swap directory " + dir);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return errno_error("create the swap directory " + dir + " (set TIDE_SWAP_DIR to another place)");
    }
    if (::lstat(dir.c_str(), &st) != 0) return errno_error("swap directory " + dir);
  }
  if (!builtin && S_ISLNK(st.st_mode) && ::stat(dir.c_str(), &st) != 0) return errno_error("swap directory " + dir);
  if (!S_ISDIR(st.st_mode)) return make_error(std::errc::not_a_directory, "swap directory " + dir + " is not a directory");
  if (builtin && (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0)) {
    return make_error(std::errc::permission_denied,
                      "swap directory " + dir + " belongs to another user or others can write it; remove it or set TIDE_SWAP_DIR");
  }
  return ok();
}

struct OpenedFile {
  UniqueFd fd;
  bool direct = false;
};

// An unnamed (or at once unlinked) file of `size_bytes` in the swap directory, O_DIRECT if
// the filesystem takes it, checked to support hole punching.
Result<OpenedFile> open_swap_file(const SwapFileSpec& spec) {
  if (spec.size_bytes == 0 || spec.size_bytes % kSwapPageSize != 0 ||
      spec.size_bytes > static_cast<uint64_t>(INT64_MAX)) {
    return make_error(std::errc::invalid_argument,
                      log::strf("swap size for %s must be a non-zero multiple of 4 KiB (got %llu bytes)",
                                spec.guest_name.c_str(), static_cast<ull>(spec.size_bytes)));
  }
  const bool builtin = spec.directory.empty() && default_swap_directory() == kBuiltinSwapDir;
  const std::string dir = spec.directory.empty() ? default_swap_directory() : spec.directory;
  TIDE_TRY(prepare_directory(dir, builtin));

  OpenedFile f;
  if (spec.allow_tmpfile) {
    f.fd.reset(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    // Filesystems without O_TMPFILE say EOPNOTSUPP; kernels that predate it, EISDIR.
    if (!f.fd && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return errno_error("create a swap file in " + dir);
    }
  }
  if (!f.fd) {
    const std::string stem = dir + "/tide-" + file_name_part(spec.guest_name) + "-" + std::to_string(::getpid());
    std::string path;
    // A leftover of a crashed process that had our pid is the only way the name can exist.
    for (int attempt = 0; attempt < 16 && !f.fd; ++attempt) {
      path = stem + (attempt == 0 ? "" : "." + std::to_string(attempt)) + ".swap";
      f.fd.reset(::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!f.fd && errno != EEXIST) return errno_error("create swap file " + path);
    }
    if (!f.fd) return make_error(std::errc::file_exists, "create swap file " + path + ": the name is taken");
    if (::unlink(path.c_str()) != 0) return errno_error("unlink swap file " + path + " (remove it by hand)");
  }
  const int flags = ::fcntl(f.fd.get(), F_GETFL);
  f.direct = flags >= 0 && ::fcntl(f.fd.get(), F_SETFL, flags | O_DIRECT) == 0;
  if (!f.direct) log::info("swap file for %s in %s: no O_DIRECT here, using the page cache", spec.guest_name.c_str(), dir.c_str());
  if (::ftruncate(f.fd.get(), static_cast<off_t>(spec.size_bytes)) != 0) {
    return errno_error(log::strf("size the swap file for %s to %llu MiB", spec.guest_name.c_str(),
                                 static_cast<ull>(spec.size_bytes >> 20)));
  }
  // Without hole punching freed slots would hold disk space for good: refuse now rather
  // than fail at the first release.
  if (::fallocate(f.fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(kSwapPageSize)) != 0) {
    if (errno == EOPNOTSUPP) {
      return make_error(std::errc::operation_not_supported,
                        "the filesystem of " + dir + " cannot punch holes; set TIDE_SWAP_DIR to ext4, xfs or btrfs");
    }
    return errno_error("punch a hole in the swap file in " + dir);
  }
  struct statfs sfs {};
  if (::fstatfs(f.fd.get(), &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
    log::warn("swap file for %s is on tmpfs (%s): swapped-out pages still take host memory", spec.guest_name.c_str(),
              dir.c_str());
  }
  return f;
}

class LinuxSwapFile final : public SwapFile {
 public:
  LinuxSwapFile(OpenedFile f, uint64_t size_bytes) : fd_(std::move(f.fd)), direct_(f.direct), size_bytes_(size_bytes) {}

  uint64_t size_bytes() const override { return size_bytes_; }
  bool direct_io() const override { return direct_; }

  Status write_pages(uint64_t offset, std::span<const std::byte* const> pages) override {
    TIDE_TRY(check(offset, pages.size(), pages));
    std::vector<iovec> iov;
    for (size_t done = 0; done < pages.size(); done += iov.size()) {
      iov.clear();
      for (size_t i = done; i < pages.size() && iov.size() < kSwapMaxIoPages; ++i) {
        // pwritev only reads through iov_base; iovec has no const variant.
        iov.push_back(iovec{const_cast<std::byte*>(pages[i]), kSwapPageSize});
      }
      TIDE_TRY(transfer(true, offset + done * kSwapPageSize, iov));
    }
    return ok();
  }

  Status read_pages(uint64_t offset, std::span<std::byte* const> pages) override {
    TIDE_TRY(check(offset, pages.size(), pages));
    std::vector<iovec> iov;
    for (size_t done = 0; done < pages.size(); done += iov.size()) {
      iov.clear();
      for (size_t i = done; i < pages.size() && iov.size() < kSwapMaxIoPages; ++i) {
        iov.push_back(iovec{pages[i], kSwapPageSize});
      }
      TIDE_TRY(transfer(false, offset + done * kSwapPageSize, iov));
    }
    return ok();
  }

  Status punch(std::span<const ByteRange> ranges) override {
    for (const ByteRange& r : ranges) {
      if ((r.offset | r.len) % kSwapPageSize != 0 || r.offset > size_bytes_ || r.len > size_bytes_ - r.offset) {
        return make_error(std::errc::invalid_argument, "swap file punch range out of bounds or misaligned");
      }
    }
    for (const ByteRange& r : coalesce(std::vector<ByteRange>(ranges.begin(), ranges.end()))) {
      if (r.len == 0) continue;
      punches_.fetch_add(1, std::memory_order_relaxed);
      if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(r.offset),
                      static_cast<off_t>(r.len)) != 0) {
        return errno_error("punch freed swap slots");
      }
    }
    return ok();
  }

  Result<uint64_t> allocated_bytes() const override {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) return errno_error("stat the swap file");
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

  SwapFileCalls calls() const override {
    return SwapFileCalls{writes_.load(std::memory_order_relaxed), reads_.load(std::memory_order_relaxed),
                         punches_.load(std::memory_order_relaxed)};
  }

 private:
  template <class Ptr>
  Status check(uint64_t offset, size_t nr_pages, std::span<Ptr const> pages) const {
    if (offset % kSwapPageSize != 0 || offset > size_bytes_ || nr_pages > (size_bytes_ - offset) / kSwapPageSize) {
      return make_error(std::errc::invalid_argument,
                        log::strf("swap file I/O of %zu pages at %llu: outside the %llu-byte file or misaligned", nr_pages,
                                  static_cast<ull>(offset), static_cast<ull>(size_bytes_)));
    }
    for (Ptr p : pages) {
      if (!page_aligned_ptr(p)) return make_error(std::errc::invalid_argument, "swap file I/O needs page-aligned buffers");
    }
    return ok();
  }

  // One pwritev/preadv, repeated from where a short transfer stopped.
  Status transfer(bool write, uint64_t offset, std::vector<iovec>& iov) {
    size_t first = 0;
    while (first < iov.size()) {
      (write ? writes_ : reads_).fetch_add(1, std::memory_order_relaxed);
      const int n = static_cast<int>(iov.size() - first);
      const ssize_t r = write ? ::pwritev(fd_.get(), iov.data() + first, n, static_cast<off_t>(offset))
                              : ::preadv(fd_.get(), iov.data() + first, n, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno_error(write ? "write to the swap file" : "read from the swap file");
      }
      if (r == 0) return make_error(std::errc::io_error, write ? "the swap file took no bytes" : "the swap file ended early");
      auto left = static_cast<uint64_t>(r);
      offset += left;
      while (left > 0 && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (left > 0) {
        iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
    return ok();
  }

  UniqueFd fd_;
  bool direct_;
  uint64_t size_bytes_;
  std::atomic<uint64_t> writes_{0}, reads_{0}, punches_{0};
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// pwrite/pread of a whole buffer, going on after short transfers.
Status transfer_all(int fd, bool write, std::byte* buf, uint64_t len, uint64_t offset) {
  uint64_t done = 0;
  while (done < len) {
    const ssize_t r = write ? ::pwrite(fd, buf + done, len - done, static_cast<off_t>(offset + done))
                            : ::pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_error(write ? "throughput probe: write" : "throughput probe: read");
    if (r == 0) return make_error(std::errc::io_error, "throughput probe: short transfer");
    done += static_cast<uint64_t>(r);
  }
  return ok();
}

}  // namespace

std::string default_swap_directory() {
  const char* env = std::getenv("TIDE_SWAP_DIR");
  return env && *env ? std::string(env) : std::string(kBuiltinSwapDir);
}

Result<std::unique_ptr<SwapFile>> LinuxSwapFiles::create(const SwapFileSpec& spec) {
  TIDE_TRY_ASSIGN(f, open_swap_file(spec));
  return std::unique_ptr<SwapFile>(new LinuxSwapFile(std::move(f), spec.size_bytes));
}

double SwapThroughput::write_mib_per_s() const {
  return write_seconds > 0 ? static_cast<double>(bytes) / (1 << 20) / write_seconds : 0;
}
double SwapThroughput::read_mib_per_s() const {
  return read_seconds > 0 ? static_cast<double>(bytes) / (1 << 20) / read_seconds : 0;
}

Result<SwapThroughput> measure_swap_throughput(const std::string& directory, uint64_t size_bytes) {
  if (size_bytes == 0 || size_bytes % kThroughputChunk != 0) {
    return make_error(std::errc::invalid_argument, "throughput probe size must be a non-zero multiple of 4 MiB");
  }
  SwapFileSpec spec;
  spec.guest_name = "throughput-probe";
  spec.size_bytes = size_bytes;
  spec.directory = directory;
  TIDE_TRY_ASSIGN(f, open_swap_file(spec));
  const int fd = f.fd.get();
  TIDE_TRY_ASSIGN(buffer, Mapping::anonymous(kThroughputChunk));  // page-aligned, as O_DIRECT needs
  std::byte* buf = buffer.data();
  // xorshift bytes: nothing a compressing or deduplicating filesystem could shrink.
  uint64_t x = 0x9e3779b97f4a7c15;
  for (uint64_t i = 0; i < kThroughputChunk; i += sizeof x) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(buf + i, &x, sizeof x);
  }
  const uint64_t chunks = size_bytes / kThroughputChunk;
  SwapThroughput out;
  out.bytes = size_bytes;
  out.direct_io = f.direct;

  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t c = 0; c < chunks; ++c) {
    std::memcpy(buf, &c, sizeof c);
    TIDE_TRY(transfer_all(fd, true, buf, kThroughputChunk, c * kThroughputChunk));
  }
  if (::fdatasync(fd) != 0) return errno_error("throughput probe: fdatasync");
  out.write_seconds = seconds_since(t0);

  if (!f.direct) {
    const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (rc != 0) return Error{std::error_code(rc, std::generic_category()), "throughput probe: posix_fadvise", true};
  }
  std::vector<uint64_t> seen(chunks);
  t0 = std::chrono::steady_clock::now();
  for (uint64_t c = 0; c < chunks; ++c) {
    TIDE_TRY(transfer_all(fd, false, buf, kThroughputChunk, c * kThroughputChunk));
    std::memcpy(&seen[c], buf, sizeof seen[c]);
  }
  out.read_seconds = seconds_since(t0);
  for (uint64_t c = 0; c < chunks; ++c) {
    if (seen[c] != c) {
      return make_error(std::errc::io_error, log::strf("throughput probe: chunk %llu read back as chunk %llu",
                                                       static_cast<ull>(c), static_cast<ull>(seen[c])));
    }
  }
  return out;
}

}  // namespace tide::gmm::host
