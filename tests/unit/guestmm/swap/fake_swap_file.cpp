#include "fake_swap_file.hpp"

#include <algorithm>
#include <cstring>

#include "guestmm/base/log.hpp"

namespace tide::gmm::fake {
namespace {

using host::kSwapPageSize;

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kSwapPageSize == 0; }
uint64_t io_calls(uint64_t pages) { return (pages + host::kSwapMaxIoPages - 1) / host::kSwapMaxIoPages; }

}  // namespace

const char* swap_op_name(SwapOp op) {
  switch (op) {
    case SwapOp::create: return "create";
    case SwapOp::write: return "write_pages";
    case SwapOp::read: return "read_pages";
    case SwapOp::punch: return "punch";
  }
  return "?";
}

// ---- FakeSwapFiles ----

FakeSwapFiles::Verdict FakeSwapFiles::enter_locked(SwapOp op) {
  const auto k = static_cast<size_t>(op);
  ++calls_[k];
  Arm& a = armed_[k];
  if (a.remaining == 0) return Verdict{};
  if (a.skip > 0) {
    --a.skip;
    return Verdict{};
  }
  --a.remaining;
  ++failures_[k];
  Verdict v{true, a.partway, a.code};
  if (a.remaining == 0) a.partway = 0;
  return v;
}

Error FakeSwapFiles::injected(SwapOp op, std::errc code) {
  return Error{std::make_error_code(code), std::string("fake swap ") + swap_op_name(op) + " (injected)", true};
}

Error FakeSwapFiles::refuse_locked(SwapOp op, const std::string& what) {
  refused_.push_back(std::string(swap_op_name(op)) + ": " + what);
  return make_error(std::errc::invalid_argument, std::string("fake swap ") + swap_op_name(op) + ": " + what);
}

void FakeSwapFiles::fail_next(SwapOp op, unsigned count, std::errc code, unsigned skip) {
  std::lock_guard l(mu_);
  armed_[static_cast<size_t>(op)] = Arm{skip, count, code, 0};
}

void FakeSwapFiles::fail_next_partway(SwapOp op, uint64_t pages, std::errc code) {
  std::lock_guard l(mu_);
  armed_[static_cast<size_t>(op)] = Arm{0, 1, code, pages};
}

void FakeSwapFiles::clear_failures() {
  std::lock_guard l(mu_);
  armed_.fill(Arm{});
}

uint64_t FakeSwapFiles::calls(SwapOp op) const {
  std::lock_guard l(mu_);
  return calls_[static_cast<size_t>(op)];
}

uint64_t FakeSwapFiles::failures(SwapOp op) const {
  std::lock_guard l(mu_);
  return failures_[static_cast<size_t>(op)];
}

FakeSwapFile* FakeSwapFiles::file() const {
  std::lock_guard l(mu_);
  return file_;
}

Status FakeSwapFiles::check() const {
  std::lock_guard l(mu_);
  if (!refused_.empty()) {
    return make_error(std::errc::state_not_recoverable, "fake swap file: the store made a bad call: " + refused_.front());
  }
  return ok();
}

Result<std::unique_ptr<host::SwapFile>> FakeSwapFiles::create(const host::SwapFileSpec& spec) {
  {
    std::lock_guard l(mu_);
    const Verdict v = enter_locked(SwapOp::create);
    if (v.fail) return injected(SwapOp::create, v.code);
    if (spec.size_bytes == 0 || spec.size_bytes % kSwapPageSize != 0) return refuse_locked(SwapOp::create, "bad size");
    if (file_) return refuse_locked(SwapOp::create, "one live file per fake");
    last_spec_ = spec;
  }
  return std::unique_ptr<host::SwapFile>(new FakeSwapFile(*this, spec.size_bytes));
}

// ---- FakeSwapFile ----

FakeSwapFile::FakeSwapFile(FakeSwapFiles& files, uint64_t size_bytes)
    : files_(files), size_bytes_(size_bytes), pages_(size_bytes / kSwapPageSize) {
  std::lock_guard l(files_.mu_);
  files_.file_ = this;
}

FakeSwapFile::~FakeSwapFile() {
  std::lock_guard l(files_.mu_);
  if (files_.file_ == this) files_.file_ = nullptr;
}

bool FakeSwapFile::in_bounds(uint64_t offset, uint64_t nr_pages) const {
  return offset % kSwapPageSize == 0 && offset <= size_bytes_ && nr_pages <= (size_bytes_ - offset) / kSwapPageSize;
}

Status FakeSwapFile::write_pages(uint64_t offset, std::span<const std::byte* const> pages) {
  std::lock_guard l(files_.mu_);
  const auto v = files_.enter_locked(SwapOp::write);
  if (!in_bounds(offset, pages.size())) return files_.refuse_locked(SwapOp::write, "range");
  for (const std::byte* p : pages) {
    if (!aligned(p)) return files_.refuse_locked(SwapOp::write, "buffer not page-aligned (O_DIRECT)");
  }
  if (v.fail && v.done_first == 0) {
    ++calls_.writes;
    return FakeSwapFiles::injected(SwapOp::write, v.code);
  }
  const uint64_t first = offset / kSwapPageSize;
  for (uint64_t i = 0; i < pages.size(); ++i) {
    if (v.fail && i == v.done_first) {
      calls_.writes += io_calls(i) + 1;  // the short write, then the one that failed
      return FakeSwapFiles::injected(SwapOp::write, v.code);
    }
    pages_[first + i].assign(pages[i], pages[i] + kSwapPageSize);
  }
  calls_.writes += io_calls(pages.size());
  if (v.fail) return FakeSwapFiles::injected(SwapOp::write, v.code);
  return ok();
}

Status FakeSwapFile::read_pages(uint64_t offset, std::span<std::byte* const> pages) {
  std::lock_guard l(files_.mu_);
  const auto v = files_.enter_locked(SwapOp::read);
  if (!in_bounds(offset, pages.size())) return files_.refuse_locked(SwapOp::read, "range");
  for (const std::byte* p : pages) {
    if (!aligned(p)) return files_.refuse_locked(SwapOp::read, "buffer not page-aligned (O_DIRECT)");
  }
  const uint64_t first = offset / kSwapPageSize;
  const uint64_t n = v.fail ? std::min<uint64_t>(v.done_first, pages.size()) : pages.size();
  for (uint64_t i = 0; i < n; ++i) {
    const auto& src = pages_[first + i];
    if (src.empty()) std::memset(pages[i], 0, kSwapPageSize);
    else std::memcpy(pages[i], src.data(), kSwapPageSize);
  }
  calls_.reads += v.fail ? io_calls(n) + 1 : io_calls(n);
  if (v.fail) return FakeSwapFiles::injected(SwapOp::read, v.code);
  return ok();
}

Status FakeSwapFile::punch(std::span<const host::ByteRange> ranges) {
  std::lock_guard l(files_.mu_);
  const auto v = files_.enter_locked(SwapOp::punch);
  for (const host::ByteRange& r : ranges) {
    if (r.len % kSwapPageSize != 0 || !in_bounds(r.offset, r.len / kSwapPageSize)) {
      return files_.refuse_locked(SwapOp::punch, "range");
    }
  }
  if (v.fail) {
    ++calls_.punches;
    return FakeSwapFiles::injected(SwapOp::punch, v.code);
  }
  std::vector<host::ByteRange> merged = host::coalesce(std::vector<host::ByteRange>(ranges.begin(), ranges.end()));
  for (const host::ByteRange& r : merged) {
    ++calls_.punches;
    for (uint64_t p = r.offset / kSwapPageSize; p < (r.offset + r.len) / kSwapPageSize; ++p) {
      pages_[p].clear();
      pages_[p].shrink_to_fit();
    }
  }
  punches_.push_back(std::move(merged));
  return ok();
}

Result<uint64_t> FakeSwapFile::allocated_bytes() const { return pages_with_blocks() * kSwapPageSize; }

host::SwapFileCalls FakeSwapFile::calls() const {
  std::lock_guard l(files_.mu_);
  return calls_;
}

bool FakeSwapFile::holds_blocks(uint64_t page) const {
  std::lock_guard l(files_.mu_);
  return !pages_.at(page).empty();
}

uint64_t FakeSwapFile::pages_with_blocks() const {
  std::lock_guard l(files_.mu_);
  return static_cast<uint64_t>(std::count_if(pages_.begin(), pages_.end(), [](const auto& p) { return !p.empty(); }));
}

std::vector<std::vector<host::ByteRange>> FakeSwapFile::punches() const {
  std::lock_guard l(files_.mu_);
  return punches_;
}

void FakeSwapFile::corrupt(uint64_t page) {
  std::lock_guard l(files_.mu_);
  auto& p = pages_.at(page);
  if (!p.empty()) p[17] ^= std::byte{0x40};
}

}  // namespace tide::gmm::fake
