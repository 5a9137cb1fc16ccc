#include "guestmm/host/linux_host_memory.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>

#include "guestmm/base/log.hpp"
#include "guestmm/base/unique_fd.hpp"
#include "guestmm/host/mapping.hpp"
#include "guestmm/host/memfd.hpp"

namespace tide::gmm::host {
namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kMaxIov = 1024;  // UIO_MAXIOV

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

// process_madvise() on ourselves, for any advice, exists since Linux 6.13; probed once.
class SelfMadvise {
 public:
  static SelfMadvise& get() {
    static SelfMadvise s;
    return s;
  }
  // Applies `advice` to every range (addresses in this process). Returns false if the
  // kernel cannot do it this way (the caller falls back); an error for real failures.
  Result<bool> apply(std::span<const iovec> iov, int advice, uint64_t* calls) {
    if (!pidfd_ || disabled_.load(std::memory_order_relaxed)) return false;
    size_t done = 0;
    while (done < iov.size()) {
      size_t n = std::min(kMaxIov, iov.size() - done);
      long r = ::syscall(SYS_process_madvise, pidfd_.get(), iov.data() + done, n, advice, 0);
      ++*calls;
      if (r < 0) {
        if ((errno == EINVAL || errno == ENOSYS || errno == EPERM) && done == 0) {
          disabled_.store(true);
          log::debug("process_madvise(%d) unavailable here; one call per range", advice);
          return false;
        }
        return errno_error("process_madvise");
      }
      uint64_t want = 0;
      for (size_t i = 0; i < n; ++i) want += iov[done + i].iov_len;
      if (static_cast<uint64_t>(r) != want) return make_error(std::errc::io_error, "process_madvise did part of a batch");
      done += n;
    }
    return true;
  }

 private:
  SelfMadvise() : pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0))) {}
  UniqueFd pidfd_;
  std::atomic<bool> disabled_{false};
};

class LinuxPool final : public PoolBacking {
 public:
  LinuxPool(Memfd memfd, Mapping map) : memfd_(std::move(memfd)), map_(std::move(map)) {
    struct stat st {};
    if (::fstat(memfd_.fd(), &st) == 0) inode_ = st.st_ino;
  }
  uint64_t size_bytes() const override { return memfd_.size_bytes(); }
  std::byte* map() const override { return map_.data(); }
  int fd() const { return memfd_.fd(); }
  uint64_t inode() const { return inode_; }

  Status punch(std::span<const ByteRange> ranges) override {
    if (ranges.empty()) return ok();
    std::vector<iovec> iov;
    iov.reserve(ranges.size());
    for (const ByteRange& r : ranges) iov.push_back(iovec{map_.data() + r.offset, r.len});
    uint64_t calls = 0;
    auto batched = SelfMadvise::get().apply(iov, MADV_REMOVE, &calls);
    calls_.fetch_add(calls, std::memory_order_relaxed);
    if (!batched) return batched.error();
    if (*batched) return ok();
    for (const ByteRange& r : ranges) {
      calls_.fetch_add(1, std::memory_order_relaxed);
      TIDE_TRY(memfd_.punch_hole(r.offset, r.len));
    }
    return ok();
  }

  uint64_t resident_bytes() const override {
    struct stat st {};
    if (::fstat(memfd_.fd(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }
  uint64_t punch_calls() const override { return calls_.load(std::memory_order_relaxed); }

 private:
  Memfd memfd_;
  Mapping map_;
  uint64_t inode_ = 0;
  std::atomic<uint64_t> calls_{0};
};

struct MapsEntry {
  uint64_t start, end, offset, inode;
};

class LinuxWindow final : public WindowBacking {
 public:
  static Result<std::unique_ptr<LinuxWindow>> create(LinuxPool& pool, uint64_t size_bytes) {
    auto w = std::unique_ptr<LinuxWindow>(new LinuxWindow(pool));
    w->uffd_.reset(static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
    if (!w->uffd_) {
      return errno_error("userfaultfd (tide needs it: run as root or set vm.unprivileged_userfaultfd=1)");
    }
    uffdio_api api{};
    api.api = UFFD_API;
    api.features = UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MINOR_SHMEM;
    if (::ioctl(w->uffd_.get(), UFFDIO_API, &api) != 0) {
      return errno_error("userfaultfd: missing and minor faults on shared memory (Linux 5.14 or newer)");
    }
    TIDE_TRY_ASSIGN(window, Mapping::reserve(size_bytes, uint64_t{2} << 20));
    // Never-mapped GFNs are anonymous placeholders that are never filled: their first
    // access faults as "missing" and the fault server maps a pool frame there instead.
    void* p = ::mmap(window.data(), size_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) return errno_error("map the guest RAM window");
    w->window_ = std::move(window);
    TIDE_TRY(w->register_range(0, size_bytes, UFFDIO_REGISTER_MODE_MISSING));
    return w;
  }

  std::byte* base() const override { return window_.data(); }
  uint64_t size_bytes() const override { return window_.size_bytes(); }
  int fault_fd() const override { return uffd_.get(); }

  Result<std::optional<WindowFault>> read_fault() override {
    for (;;) {
      uffd_msg msg{};
      ssize_t n = ::read(uffd_.get(), &msg, sizeof msg);
      if (n < 0) {
        if (errno == EAGAIN) return std::optional<WindowFault>{};
        if (errno == EINTR) continue;
        return errno_error("read userfaultfd");
      }
      if (n != sizeof msg) return make_error(std::errc::io_error, "short userfaultfd message");
      if (msg.event != UFFD_EVENT_PAGEFAULT) continue;  // no other events are enabled
      const uint64_t addr = msg.arg.pagefault.address & ~(kPage - 1);
      const auto base = reinterpret_cast<uint64_t>(window_.data());
      if (addr < base || addr >= base + window_.size_bytes()) continue;
      WindowFault f;
      f.offset = addr - base;
      f.write = (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
      f.minor = (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR) != 0;
      return std::optional<WindowFault>(f);
    }
  }

  Status map_frames(uint64_t win_off, uint64_t pool_off, uint64_t len) override {
    TIDE_TRY(check(win_off, len));
    void* p = ::mmap(window_.data() + win_off, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, pool_.fd(),
                     static_cast<off_t>(pool_off));
    if (p == MAP_FAILED) return errno_error("map pool frames into a guest window");
    if (auto st = register_range(win_off, len, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR); !st) {
      // An unwatched view would let the kernel fill pages behind tide's back: put the
      // placeholder back.
      ::mmap(window_.data() + win_off, len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
      (void)register_range(win_off, len, UFFDIO_REGISTER_MODE_MISSING);
      return st.error();
    }
    return ok();
  }

  Status fill_zero(uint64_t win_off, uint64_t len) override { return fill(UFFDIO_ZEROPAGE, win_off, len); }
  Status fill_present(uint64_t win_off, uint64_t len) override { return fill(UFFDIO_CONTINUE, win_off, len); }

  Status fill_copy(uint64_t win_off, std::span<const std::byte> data) override {
    TIDE_TRY(check(win_off, data.size()));
    // Several pages may come in one call; the kernel may copy part of them and say EAGAIN
    // (the mm changing under it): go on from where it stopped.
    uint64_t done = 0;
    for (int stalls = 0; done < data.size() && stalls < 100;) {
      uffdio_copy c{};
      c.dst = addr(win_off + done);
      c.src = reinterpret_cast<uint64_t>(data.data() + done);
      c.len = data.size() - done;
      c.mode = UFFDIO_COPY_MODE_DONTWAKE;
      if (::ioctl(uffd_.get(), UFFDIO_COPY, &c) == 0 || errno == EEXIST) return ok();
      if (errno != EAGAIN) return errno_error("UFFDIO_COPY");
      if (c.copy > 0) done += static_cast<uint64_t>(c.copy);
      else ++stalls;
    }
    if (done < data.size()) return errno_error("UFFDIO_COPY");
    return ok();
  }

  Status wake(uint64_t win_off, uint64_t len) override {
    uffdio_range r{addr(win_off), len};
    if (::ioctl(uffd_.get(), UFFDIO_WAKE, &r) != 0) return errno_error("UFFDIO_WAKE");
    return ok();
  }

  Status zap(std::span<const ByteRange> ranges) override {
    if (ranges.empty()) return ok();
    std::vector<iovec> iov;
    for (const ByteRange& r : ranges) {
      TIDE_TRY(check(r.offset, r.len));
      iov.push_back(iovec{window_.data() + r.offset, r.len});
    }
    uint64_t calls = 0;
    TIDE_TRY_ASSIGN(batched, SelfMadvise::get().apply(iov, MADV_DONTNEED, &calls));
    if (batched) return ok();
    for (const iovec& v : iov) {
      if (::madvise(v.iov_base, v.iov_len, MADV_DONTNEED) != 0) return errno_error("madvise(MADV_DONTNEED) on a window");
    }
    return ok();
  }

  Status retire() override {
    if (retired_) return ok();
    void* p = ::mmap(window_.data(), window_.size_bytes(), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) return errno_error("retire a guest window");
    retired_ = true;
    // Blocked faults retry on the new, unwatched memory.
    return wake(0, window_.size_bytes());
  }

  Status snapshot_mappings() override {
    std::ifstream f("/proc/self/maps");
    if (!f) return errno_error("read /proc/self/maps");
    std::vector<MapsEntry> out;
    std::string line;
    const auto base = reinterpret_cast<uint64_t>(window_.data());
    const uint64_t end = base + window_.size_bytes();
    while (std::getline(f, line)) {
      unsigned long long s = 0, e = 0, off = 0, ino = 0;
      char perms[8] = {}, dev[16] = {};
      if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %15s %llu", &s, &e, perms, &off, dev, &ino) != 6) continue;
      if (e <= base || s >= end) continue;
      out.push_back(MapsEntry{s, e, off, ino});
    }
    std::lock_guard lock(maps_mutex_);
    maps_ = std::move(out);
    return ok();
  }

  Result<std::optional<uint64_t>> pool_offset_at(uint64_t win_off) const override {
    const uint64_t a = addr(win_off);
    std::lock_guard lock(maps_mutex_);
    auto it = std::upper_bound(maps_.begin(), maps_.end(), a, [](uint64_t v, const MapsEntry& m) { return v < m.start; });
    if (it == maps_.begin()) return std::optional<uint64_t>{};
    --it;
    if (a >= it->end || it->inode != pool_.inode()) return std::optional<uint64_t>{};
    return std::optional<uint64_t>(it->offset + (a - it->start));
  }

 private:
  explicit LinuxWindow(LinuxPool& pool) : pool_(pool) {}

  uint64_t addr(uint64_t win_off) const { return reinterpret_cast<uint64_t>(window_.data()) + win_off; }

  Status check(uint64_t win_off, uint64_t len) const {
    if ((win_off | len) % kPage != 0 || win_off > window_.size_bytes() || len > window_.size_bytes() - win_off) {
      return make_error(std::errc::invalid_argument, "window range out of bounds or misaligned");
    }
    return ok();
  }

  Status register_range(uint64_t win_off, uint64_t len, uint64_t mode) {
    uffdio_register reg{};
    reg.range = uffdio_range{addr(win_off), len};
    reg.mode = mode;
    if (::ioctl(uffd_.get(), UFFDIO_REGISTER, &reg) != 0) return errno_error("register a guest window with userfaultfd");
    return ok();
  }

  // UFFDIO_ZEROPAGE / UFFDIO_CONTINUE over a range without waking, stepping over pages
  // that are already there (EEXIST) so the rest is still filled.
  Status fill(unsigned long op, uint64_t win_off, uint64_t len) {
    TIDE_TRY(check(win_off, len));
    uint64_t done = 0;
    while (done < len) {
      int64_t progress = 0;
      int rc = 0;
      if (op == UFFDIO_ZEROPAGE) {
        uffdio_zeropage z{};
        z.range = uffdio_range{addr(win_off + done), len - done};
        z.mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE;
        rc = ::ioctl(uffd_.get(), op, &z);
        progress = z.zeropage;
      } else {
        uffdio_continue c{};
        c.range = uffdio_range{addr(win_off + done), len - done};
        c.mode = UFFDIO_CONTINUE_MODE_DONTWAKE;
        rc = ::ioctl(uffd_.get(), op, &c);
        progress = c.mapped;
      }
      if (rc == 0) return ok();
      int e = errno;
      if (e == EAGAIN) continue;  // the mapping changed under us: retry the rest
      if (e != EEXIST) return errno_error(op == UFFDIO_ZEROPAGE ? "UFFDIO_ZEROPAGE" : "UFFDIO_CONTINUE");
      done += (progress > 0 ? static_cast<uint64_t>(progress) : 0) + kPage;
    }
    return ok();
  }

  LinuxPool& pool_;
  bool retired_ = false;
  UniqueFd uffd_;
  Mapping window_;
  mutable std::mutex maps_mutex_;
  std::vector<MapsEntry> maps_;
};

}  // namespace

Result<std::unique_ptr<PoolBacking>> LinuxHostMemory::create_pool(uint64_t size_bytes) {
  TIDE_TRY_ASSIGN(memfd, Memfd::create("tide-pool", size_bytes));
  TIDE_TRY_ASSIGN(map, Mapping::map_shared(memfd.fd(), 0, size_bytes));
  return std::unique_ptr<PoolBacking>(new LinuxPool(std::move(memfd), std::move(map)));
}

Result<std::unique_ptr<WindowBacking>> LinuxHostMemory::create_window(PoolBacking& pool, uint64_t size_bytes) {
  auto* linux_pool = dynamic_cast<LinuxPool*>(&pool);
  if (!linux_pool) return make_error(std::errc::invalid_argument, "a Linux window needs a Linux pool");
  TIDE_TRY_ASSIGN(w, LinuxWindow::create(*linux_pool, size_bytes));
  return std::unique_ptr<WindowBacking>(std::move(w));
}

}  // namespace tide::gmm::host
