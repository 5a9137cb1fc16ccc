#include "fake_host_memory.hpp"

#include <algorithm>
#include <cstring>

#include "guestmm/base/log.hpp"

namespace tide::gmm::fake {
namespace {

using ull = unsigned long long;

Error broken(const std::string& what) { return make_error(std::errc::state_not_recoverable, "fake host: " + what); }

}  // namespace

const char* host_op_name(HostOp op) {
  switch (op) {
    case HostOp::create_pool: return "create_pool";
    case HostOp::create_window: return "create_window";
    case HostOp::map_frames: return "map_frames";
    case HostOp::fill_zero: return "fill_zero";
    case HostOp::fill_present: return "fill_present";
    case HostOp::fill_copy: return "fill_copy";
    case HostOp::zap: return "zap";
    case HostOp::punch: return "punch";
    case HostOp::snapshot: return "snapshot_mappings";
    case HostOp::read_fault: return "read_fault";
    case HostOp::retire: return "retire";
  }
  return "?";
}

// ---- FakeHostMemory ----

FakeHostMemory::Verdict FakeHostMemory::enter_locked(HostOp op) {
  const auto k = static_cast<size_t>(op);
  ++calls_[k];
  Arm& a = armed_[k];
  if (a.remaining == 0) return Verdict{};
  --a.remaining;
  ++failures_[k];
  Verdict v{true, a.partway, a.code};
  if (a.remaining == 0) a.partway = 0;
  return v;
}

Status FakeHostMemory::enter_simple_locked(HostOp op) {
  const Verdict v = enter_locked(op);
  if (v.fail) return injected(op, v.code);
  return ok();
}

Error FakeHostMemory::injected(HostOp op, std::errc code) {
  return Error{std::make_error_code(code), std::string("fake ") + host_op_name(op) + " (injected)", true};
}

Error FakeHostMemory::refuse_locked(HostOp op, const std::string& what) {
  refused_.push_back(std::string(host_op_name(op)) + ": " + what);
  return make_error(std::errc::invalid_argument, std::string("fake ") + host_op_name(op) + ": " + what);
}

void FakeHostMemory::fail_next(HostOp op, unsigned count, std::errc code) {
  std::lock_guard l(mu_);
  armed_[static_cast<size_t>(op)] = Arm{count, code, 0};
}

void FakeHostMemory::fail_next_partway(HostOp op, uint64_t units, std::errc code) {
  std::lock_guard l(mu_);
  armed_[static_cast<size_t>(op)] = Arm{1, code, units};
}

void FakeHostMemory::clear_failures() {
  std::lock_guard l(mu_);
  armed_.fill(Arm{});
}

uint64_t FakeHostMemory::calls(HostOp op) const {
  std::lock_guard l(mu_);
  return calls_[static_cast<size_t>(op)];
}

uint64_t FakeHostMemory::failures(HostOp op) const {
  std::lock_guard l(mu_);
  return failures_[static_cast<size_t>(op)];
}

FakePool* FakeHostMemory::pool() const {
  std::lock_guard l(mu_);
  return pool_;
}

Result<std::unique_ptr<host::PoolBacking>> FakeHostMemory::create_pool(uint64_t size_bytes) {
  {
    std::lock_guard l(mu_);
    TIDE_TRY(enter_simple_locked(HostOp::create_pool));
    if (size_bytes == 0 || !page_aligned(size_bytes)) return refuse_locked(HostOp::create_pool, "bad size");
    if (pool_) return refuse_locked(HostOp::create_pool, "one pool per fake host");
  }
  return std::unique_ptr<host::PoolBacking>(new FakePool(*this, size_bytes));
}

Result<std::unique_ptr<host::WindowBacking>> FakeHostMemory::create_window(host::PoolBacking& pool, uint64_t size_bytes) {
  auto* fake_pool = dynamic_cast<FakePool*>(&pool);
  {
    std::lock_guard l(mu_);
    TIDE_TRY(enter_simple_locked(HostOp::create_window));
    if (!fake_pool || fake_pool != pool_) return refuse_locked(HostOp::create_window, "not this host's pool");
    if (size_bytes == 0 || !page_aligned(size_bytes)) return refuse_locked(HostOp::create_window, "bad size");
  }
  // Address space only: regions() gets real addresses that alias nothing.
  TIDE_TRY_ASSIGN(reserved, host::Mapping::reserve(size_bytes, kExtentSize));
  return std::unique_ptr<host::WindowBacking>(new FakeWindow(*this, *fake_pool, std::move(reserved)));
}

Status FakeHostMemory::check() const {
  std::lock_guard l(mu_);
  if (!refused_.empty()) return broken("the manager made a bad call: " + refused_.front());
  if (!pool_) return ok();
  for (const FakeWindow* w : pool_->windows_) {
    for (uint64_t i = 0; i < w->pages_.size(); ++i) {
      const auto& p = w->pages_[i];
      if (p.pte && p.view != FakeWindow::kNoView && !pool_->present_locked(p.view)) {
        return broken(log::strf("window page %llu has a PTE on absent pool page %llu", static_cast<ull>(i),
                                static_cast<ull>(p.view)));
      }
    }
  }
  return ok();
}

// ---- FakePool ----

FakePool::FakePool(FakeHostMemory& host, uint64_t size_bytes)
    : host_(host),
      size_bytes_(size_bytes),
      bytes_(new (std::align_val_t(kPageSize)) std::byte[size_bytes]()),
      present_(size_bytes / kPageSize, 0) {
  std::lock_guard l(host_.mu_);
  make_absent_locked(0, nr_pages());
  host_.pool_ = this;
}

bool FakePool::present_locked(uint64_t page) const {
  if (present_[page]) return true;
  static const std::vector<std::byte> poison(kPageSize, kPoison);
  if (std::memcmp(bytes_.get() + page * kPageSize, poison.data(), kPageSize) == 0) return false;
  present_[page] = 1;  // written through the pool map: the host gave it memory
  return true;
}

void FakePool::make_absent_locked(uint64_t first, uint64_t end) {
  std::memset(bytes_.get() + first * kPageSize, static_cast<int>(kPoison), (end - first) * kPageSize);
  std::fill(present_.begin() + static_cast<ptrdiff_t>(first), present_.begin() + static_cast<ptrdiff_t>(end), 0);
}

FakePool::~FakePool() {
  std::lock_guard l(host_.mu_);
  if (host_.pool_ == this) host_.pool_ = nullptr;
}

Status FakePool::punch(std::span<const host::ByteRange> ranges) {
  if (ranges.empty()) return ok();  // no system call, like the Linux pool
  std::lock_guard l(host_.mu_);
  const auto verdict = host_.enter_locked(HostOp::punch);
  if (verdict.fail && verdict.done_first == 0) return FakeHostMemory::injected(HostOp::punch, verdict.code);
  for (const host::ByteRange& r : ranges) {
    if (!page_aligned(r.offset) || !page_aligned(r.len) || r.len == 0 || r.offset > size_bytes_ ||
        r.len > size_bytes_ - r.offset) {
      return host_.refuse_locked(HostOp::punch, log::strf("range [0x%llx, +0x%llx) is misaligned or outside the pool",
                                                         static_cast<ull>(r.offset), static_cast<ull>(r.len)));
    }
  }
  std::vector<std::pair<uint64_t, uint64_t>> pages;  // [first, end) pool pages punched
  for (const host::ByteRange& r : ranges) {
    if (verdict.fail && pages.size() == verdict.done_first) break;
    ++punch_calls_;  // one fallocate(PUNCH_HOLE) per range
    const uint64_t first = r.offset / kPageSize, end = (r.offset + r.len) / kPageSize;
    make_absent_locked(first, end);
    pages.emplace_back(first, end);
  }
  std::sort(pages.begin(), pages.end());
  // Like truncation in the kernel: every mapping of a punched page loses its PTE.
  for (FakeWindow* w : windows_) {
    for (auto& p : w->pages_) {
      if (!p.pte || p.view == FakeWindow::kNoView) continue;
      auto it = std::upper_bound(pages.begin(), pages.end(), std::make_pair(p.view, UINT64_MAX));
      if (it != pages.begin() && p.view < std::prev(it)->second) p.pte = false;
    }
  }
  if (verdict.fail) return FakeHostMemory::injected(HostOp::punch, verdict.code);
  ++punch_invocations_;
  last_punch_.assign(ranges.begin(), ranges.end());
  return ok();
}

uint64_t FakePool::resident_bytes() const { return present_pages() * kPageSize; }

uint64_t FakePool::punch_calls() const {
  std::lock_guard l(host_.mu_);
  return punch_calls_;
}

bool FakePool::present(uint64_t page) const {
  std::lock_guard l(host_.mu_);
  return page < present_.size() && present_locked(page);
}

uint64_t FakePool::present_pages() const {
  std::lock_guard l(host_.mu_);
  uint64_t n = 0;
  for (uint64_t p = 0; p < nr_pages(); ++p) n += present_locked(p) ? 1 : 0;
  return n;
}

std::vector<uint8_t> FakePool::present_map() const {
  std::lock_guard l(host_.mu_);
  std::vector<uint8_t> out(nr_pages());
  for (uint64_t p = 0; p < out.size(); ++p) out[p] = present_locked(p) ? 1 : 0;
  return out;
}

uint64_t FakePool::punch_invocations() const {
  std::lock_guard l(host_.mu_);
  return punch_invocations_;
}

std::vector<host::ByteRange> FakePool::last_punch() const {
  std::lock_guard l(host_.mu_);
  return last_punch_;
}

// ---- FakeWindow ----

FakeWindow::FakeWindow(FakeHostMemory& host, FakePool& pool, host::Mapping reserved)
    : host_(host), pool_(pool), reserved_(std::move(reserved)), pages_(reserved_.size_bytes() / kPageSize) {
  std::lock_guard l(host_.mu_);
  pool_.windows_.push_back(this);
}

FakeWindow::~FakeWindow() {
  std::lock_guard l(host_.mu_);
  auto& ws = pool_.windows_;
  ws.erase(std::remove(ws.begin(), ws.end(), this), ws.end());
}

FakeWindow& FakeWindow::of(GuestMm& guest) { return dynamic_cast<FakeWindow&>(guest.window()); }

bool FakeWindow::in_bounds(uint64_t win_off, uint64_t len) const {
  return page_aligned(win_off) && page_aligned(len) && len > 0 && win_off <= size_bytes() &&
         len <= size_bytes() - win_off;
}

Result<std::optional<host::WindowFault>> FakeWindow::read_fault() {
  std::lock_guard l(host_.mu_);
  TIDE_TRY(host_.enter_simple_locked(HostOp::read_fault));
  if (faults_.empty()) return std::optional<host::WindowFault>{};
  host::WindowFault f = faults_.front();
  faults_.pop_front();
  return std::optional<host::WindowFault>(f);
}

void FakeWindow::push_fault(host::WindowFault fault) {
  std::lock_guard l(host_.mu_);
  faults_.push_back(fault);
}

Status FakeWindow::map_frames(uint64_t win_off, uint64_t pool_off, uint64_t len) {
  std::lock_guard l(host_.mu_);
  if (retired_) return host_.refuse_locked(HostOp::map_frames, "the window is retired");
  TIDE_TRY(host_.enter_simple_locked(HostOp::map_frames));
  if (!in_bounds(win_off, len) || !page_aligned(pool_off) || pool_off > pool_.size_bytes_ ||
      len > pool_.size_bytes_ - pool_off) {
    return host_.refuse_locked(HostOp::map_frames, log::strf("window 0x%llx pool 0x%llx len 0x%llx", static_cast<ull>(win_off),
                                                            static_cast<ull>(pool_off), static_cast<ull>(len)));
  }
  for (uint64_t k = 0; k < len / kPageSize; ++k) {
    const uint64_t page = win_off / kPageSize + k;
    pages_[page] = Page{pool_off / kPageSize + k, false};
    anon_.erase(page);
  }
  return ok();
}

Status FakeWindow::fill_zero(uint64_t win_off, uint64_t len) {
  std::lock_guard l(host_.mu_);
  if (retired_) return host_.refuse_locked(HostOp::fill_zero, "the window is retired");
  const auto verdict = host_.enter_locked(HostOp::fill_zero);
  if (!in_bounds(win_off, len)) return host_.refuse_locked(HostOp::fill_zero, "range");
  for (uint64_t k = 0; k < len / kPageSize; ++k) {
    if (verdict.fail && k == verdict.done_first) return FakeHostMemory::injected(HostOp::fill_zero, verdict.code);
    const uint64_t page = win_off / kPageSize + k;
    Page& p = pages_[page];
    if (p.pte) continue;  // EEXIST
    if (p.view == kNoView) {
      // UFFDIO_ZEROPAGE on the anonymous placeholder: private zeroes, not pool memory.
      anon_[page].assign(kPageSize, std::byte{0});
      p.pte = true;
      continue;
    }
    if (pool_.present_locked(p.view)) continue;  // EEXIST: the pool page is there; no PTE
    std::memset(pool_.bytes_.get() + p.view * kPageSize, 0, kPageSize);
    pool_.present_[p.view] = 1;
    p.pte = true;
  }
  if (verdict.fail) return FakeHostMemory::injected(HostOp::fill_zero, verdict.code);
  return ok();
}

Status FakeWindow::fill_present(uint64_t win_off, uint64_t len) {
  std::lock_guard l(host_.mu_);
  if (retired_) return host_.refuse_locked(HostOp::fill_present, "the window is retired");
  const auto verdict = host_.enter_locked(HostOp::fill_present);
  if (!in_bounds(win_off, len)) return host_.refuse_locked(HostOp::fill_present, "range");
  for (uint64_t k = 0; k < len / kPageSize; ++k) {
    if (verdict.fail && k == verdict.done_first) return FakeHostMemory::injected(HostOp::fill_present, verdict.code);
    Page& p = pages_[win_off / kPageSize + k];
    if (p.pte) continue;  // EEXIST
    // UFFDIO_CONTINUE: only over a view of the pool, only for pages the pool holds. Pages
    // before the bad one stay mapped, as in the kernel.
    if (p.view == kNoView) return make_error(std::errc::invalid_argument, "fake fill_present: not a view of the pool");
    if (!pool_.present_locked(p.view)) return make_error(std::errc::bad_address, "fake fill_present: the pool page is absent");
    p.pte = true;
  }
  if (verdict.fail) return FakeHostMemory::injected(HostOp::fill_present, verdict.code);
  return ok();
}

Status FakeWindow::fill_copy(uint64_t win_off, std::span<const std::byte> data) {
  std::lock_guard l(host_.mu_);
  TIDE_TRY(host_.enter_simple_locked(HostOp::fill_copy));
  if (!in_bounds(win_off, data.size()) || data.empty() || data.size() % kPageSize != 0) {
    return host_.refuse_locked(HostOp::fill_copy, "range");
  }
  for (uint64_t k = 0; k < data.size() / kPageSize; ++k) {
    const uint64_t page = win_off / kPageSize + k;
    const std::byte* src = data.data() + k * kPageSize;
    Page& p = pages_[page];
    if (p.pte) return ok();  // EEXIST: stops there, like the kernel
    if (p.view == kNoView) {
      anon_[page].assign(src, src + kPageSize);
    } else {
      if (pool_.present_locked(p.view)) return ok();
      std::memcpy(pool_.bytes_.get() + p.view * kPageSize, src, kPageSize);
      pool_.present_[p.view] = 1;
    }
    p.pte = true;
  }
  return ok();
}

Status FakeWindow::wake(uint64_t win_off, uint64_t len) {
  std::lock_guard l(host_.mu_);
  if (!in_bounds(win_off, len)) return host_.refuse_locked(HostOp::fill_zero, "wake range");
  return ok();
}

Status FakeWindow::zap(std::span<const host::ByteRange> ranges) {
  std::lock_guard l(host_.mu_);
  const auto verdict = host_.enter_locked(HostOp::zap);
  for (const host::ByteRange& r : ranges) {
    if (!in_bounds(r.offset, r.len)) return host_.refuse_locked(HostOp::zap, "range");
  }
  uint64_t done = 0;
  for (const host::ByteRange& r : ranges) {
    for (uint64_t k = 0; k < r.len / kPageSize; ++k, ++done) {
      if (verdict.fail && done == verdict.done_first) return FakeHostMemory::injected(HostOp::zap, verdict.code);
      pages_[r.offset / kPageSize + k].pte = false;
    }
  }
  if (verdict.fail) return FakeHostMemory::injected(HostOp::zap, verdict.code);
  return ok();
}

Status FakeWindow::retire() {
  std::lock_guard l(host_.mu_);
  TIDE_TRY(host_.enter_simple_locked(HostOp::retire));
  retired_ = true;
  for (Page& p : pages_) p = Page{};
  anon_.clear();
  return ok();
}

Result<std::optional<uint64_t>> FakeWindow::pool_offset_at(uint64_t win_off) const {
  std::lock_guard l(host_.mu_);
  if (win_off >= size_bytes()) return make_error(std::errc::invalid_argument, "fake pool_offset_at: outside the window");
  const Page& p = pages_[win_off / kPageSize];
  if (p.view == kNoView) return std::optional<uint64_t>{};
  return std::optional<uint64_t>(p.view * kPageSize + page_offset(Gpa(win_off)));
}

Status FakeWindow::snapshot_mappings() {
  std::lock_guard l(host_.mu_);
  return host_.enter_simple_locked(HostOp::snapshot);
}

std::optional<uint64_t> FakeWindow::view(uint64_t page) const {
  std::lock_guard l(host_.mu_);
  if (pages_.at(page).view == kNoView) return std::nullopt;
  return pages_[page].view;
}

bool FakeWindow::has_pte(uint64_t page) const {
  std::lock_guard l(host_.mu_);
  return pages_.at(page).pte;
}

std::vector<FakeWindow::PageView> FakeWindow::page_views() const {
  std::lock_guard l(host_.mu_);
  std::vector<PageView> out(pages_.size());
  for (uint64_t i = 0; i < pages_.size(); ++i) {
    if (pages_[i].view != kNoView) out[i].view = pages_[i].view;
    out[i].pte = pages_[i].pte;
  }
  return out;
}

void FakeWindow::set_view(uint64_t page, std::optional<uint64_t> pool_page) {
  std::lock_guard l(host_.mu_);
  pages_.at(page) = Page{pool_page ? *pool_page : kNoView, false};
}

bool FakeWindow::would_be_minor(uint64_t page) const {
  std::lock_guard l(host_.mu_);
  const Page& p = pages_.at(page);
  return p.view != kNoView && pool_.present_locked(p.view);
}

std::byte* FakeWindow::page_bytes_locked(uint64_t page) {
  if (retired_) {
    // Inert anonymous memory: any access gets a throwaway zero page.
    auto& a = anon_[page];
    if (a.empty()) a.assign(kPageSize, std::byte{0});
    return a.data();
  }
  Page& p = pages_.at(page);
  if (!p.pte) return nullptr;
  if (p.view == kNoView) return anon_.at(page).data();
  return pool_.bytes_.get() + p.view * kPageSize;
}

bool FakeWindow::write_page(uint64_t page, uint8_t value) {
  std::lock_guard l(host_.mu_);
  std::byte* b = page_bytes_locked(page);
  if (!b) return false;
  std::memset(b, value, kPageSize);
  return true;
}

std::optional<std::vector<std::byte>> FakeWindow::read_page(uint64_t page) const {
  std::lock_guard l(host_.mu_);
  std::byte* b = const_cast<FakeWindow*>(this)->page_bytes_locked(page);
  if (!b) return std::nullopt;
  return std::vector<std::byte>(b, b + kPageSize);
}

// ---- vCPU access ----

namespace {

constexpr int kMaxFaults = 8;  // a racing release can take the page back between tries

Result<uint64_t> index_or_error(const GuestMm& guest, Gfn gfn) {
  auto i = guest.p2m().index_of(gfn);
  if (!i) return make_error(std::errc::bad_address, log::strf("GFN 0x%llx is not RAM", static_cast<ull>(gfn.value())));
  return *i;
}

}  // namespace

Status touch(GuestMm& guest, Gfn gfn, uint8_t value) {
  TIDE_TRY_ASSIGN(index, index_or_error(guest, gfn));
  FakeWindow& w = FakeWindow::of(guest);
  for (int attempt = 0; attempt < kMaxFaults; ++attempt) {
    if (w.write_page(index, value)) return ok();
    TIDE_TRY(guest.handle_fault(host::WindowFault{index << kPageShift, true, w.would_be_minor(index)}));
  }
  return make_error(std::errc::resource_unavailable_try_again,
                    log::strf("GFN 0x%llx still has no PTE after %d faults", static_cast<ull>(gfn.value()), kMaxFaults));
}

Result<uint8_t> read(GuestMm& guest, Gfn gfn) {
  TIDE_TRY_ASSIGN(index, index_or_error(guest, gfn));
  FakeWindow& w = FakeWindow::of(guest);
  for (int attempt = 0; attempt < kMaxFaults; ++attempt) {
    if (auto bytes = w.read_page(index)) {
      const std::byte first = (*bytes)[0];
      for (size_t k = 1; k < bytes->size(); ++k) {
        if ((*bytes)[k] != first) {
          return make_error(std::errc::state_not_recoverable,
                            log::strf("GFN 0x%llx has mixed contents (0x%02x at 0, 0x%02x at %zu)", static_cast<ull>(gfn.value()),
                                      static_cast<unsigned>(first), static_cast<unsigned>((*bytes)[k]), k));
        }
      }
      return static_cast<uint8_t>(first);
    }
    TIDE_TRY(guest.handle_fault(host::WindowFault{index << kPageShift, false, w.would_be_minor(index)}));
  }
  return make_error(std::errc::resource_unavailable_try_again,
                    log::strf("GFN 0x%llx still has no PTE after %d faults", static_cast<ull>(gfn.value()), kMaxFaults));
}

// ---- audits with the host's view ----

Status check_host_view(MemoryManager& mm, FakeHostMemory& host, std::span<GuestMm* const> guests) {
  TIDE_TRY(host.check());
  FakePool* pool = host.pool();
  if (!pool) return broken("no pool");
  const std::vector<uint8_t> present = pool->present_map();
  uint64_t used = 0;
  for (GuestMm* g : guests) {
    const auto views = FakeWindow::of(*g).page_views();
    const P2m& p2m = g->p2m();
    for (uint64_t i = 0; i < p2m.nr_pages(); ++i) {
      const P2mEntry e = p2m.load(i);
      const ull gfn = p2m.gfn_at(i).value();
      if (views[i].pte) {
        // A frameless page may keep its PTE only if the guest promised to keep off it
        // (ReleaseOptions::guest_keeps_off) and the frame still waits for the scrubber.
        const bool keep_off_pending = !e.has_frame() && e.state() != PageState::empty && views[i].view &&
                                      mm.frames().at(*views[i].view).has(kFrameScrub);
        if (keep_off_pending) continue;
        if (!e.has_frame()) {
          return broken(log::strf("%s: GFN 0x%llx is %s but its window page still has a PTE (to pool page %lld)",
                                  g->name().c_str(), gfn, page_state_name(e.state()),
                                  views[i].view ? static_cast<long long>(*views[i].view) : -1LL));
        }
        if (views[i].view != e.mfn().value()) {
          return broken(log::strf("%s: GFN 0x%llx has a PTE to another page than frame %llu", g->name().c_str(), gfn,
                                  static_cast<ull>(e.mfn().value())));
        }
      }
      if (e.has_frame() && (e.mfn().value() >= present.size() || !present[e.mfn().value()])) {
        return broken(log::strf("%s: GFN 0x%llx is Present at frame %llu, which holds no host memory", g->name().c_str(), gfn,
                                static_cast<ull>(e.mfn().value())));
      }
    }
    used += g->stats().resident_frames;
  }
  const FrameTable& frames = mm.frames();
  for (uint64_t m = 0; m < frames.size() && m < present.size(); ++m) {
    // Frames waiting for the scrubber still hold host memory until it punches them.
    if (present[m] && !frames.at(m).has(kFrameResident) && !frames.at(m).has(kFrameScrub)) {
      return broken(log::strf("frame %llu holds host memory but is free or cached (flags 0x%x)", static_cast<ull>(m),
                              frames.at(m).flags));
    }
  }
  const PoolStats s = mm.stats();
  if (s.free_frames + s.cached_frames + s.hot_frames + s.scrubbing_frames + s.used_frames != s.total_frames) {
    return broken(log::strf("pool stats: %llu free + %llu cached + %llu hot + %llu scrubbing + %llu used != %llu",
                            static_cast<ull>(s.free_frames), static_cast<ull>(s.cached_frames),
                            static_cast<ull>(s.hot_frames), static_cast<ull>(s.scrubbing_frames),
                            static_cast<ull>(s.used_frames), static_cast<ull>(s.total_frames)));
  }
  if (s.used_frames != used) return broken("pool stats: used frames differ from the guests' resident counts");
  if (s.resident_bytes < s.used_frames * kPageSize ||
      s.resident_bytes > (s.used_frames + s.hot_frames + s.scrubbing_frames) * kPageSize) {
    return broken(log::strf("pool holds %llu bytes; used %llu and hot %llu frames", static_cast<ull>(s.resident_bytes),
                            static_cast<ull>(s.used_frames), static_cast<ull>(s.hot_frames)));
  }
  return ok();
}

Status check_all(MemoryManager& mm, FakeHostMemory& host, std::span<GuestMm* const> guests) {
  TIDE_TRY(mm.check_invariants());
  return check_host_view(mm, host, guests);
}

}  // namespace tide::gmm::fake
