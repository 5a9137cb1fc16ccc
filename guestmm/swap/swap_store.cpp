#include "guestmm/swap/swap_store.hpp"

#include <algorithm>

#include "guestmm/base/log.hpp"

namespace tide::gmm::swap {
namespace {

using ull = unsigned long long;

Error broken(const std::string& guest, const std::string& what) {
  return make_error(std::errc::state_not_recoverable, "swap store of " + guest + ": " + what);
}

// Consecutive slots of a sorted list as runs.
std::vector<SlotRun> runs_of_sorted(const std::vector<uint64_t>& sorted) {
  std::vector<SlotRun> runs;
  for (uint64_t s : sorted) {
    if (!runs.empty() && runs.back().end() == Slot(s)) ++runs.back().nr_slots;
    else runs.push_back(SlotRun{Slot(s), 1});
  }
  return runs;
}

// "64 KiB", "512 MiB": sizes in error messages.
std::string size_text(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0) return log::strf("%llu MiB", static_cast<ull>(bytes >> 20));
  return log::strf("%llu KiB", static_cast<ull>(bytes >> 10));
}

host::ByteRange bytes_of(SlotRun r) { return host::ByteRange{r.first.value() * kSlotSize, r.nr_slots * kSlotSize}; }

}  // namespace

Result<std::unique_ptr<SwapStore>> SwapStore::create(host::SwapFiles& files, const SwapStoreOptions& options) {
  if (options.size_bytes == 0 || options.size_bytes % kSlotSize != 0) {
    return make_error(std::errc::invalid_argument,
                      log::strf("swap size for %s must be a non-zero multiple of 4 KiB (got %llu bytes)",
                                options.guest_name.c_str(), static_cast<ull>(options.size_bytes)));
  }
  if (options.punch_batch_slots == 0) return make_error(std::errc::invalid_argument, "punch batch must be at least one slot");
  const uint64_t nr_slots = options.size_bytes / kSlotSize;
  TIDE_TRY_ASSIGN(slots, SlotAllocator::create(nr_slots));
  TIDE_TRY_ASSIGN(states, host::Mapping::anonymous(nr_slots));
  host::SwapFileSpec spec;
  spec.guest_name = options.guest_name;
  spec.size_bytes = options.size_bytes;
  spec.directory = options.directory;
  spec.allow_tmpfile = options.allow_tmpfile;
  auto file = files.create(spec);
  if (!file) return prefixed(file.error(), "swap for " + options.guest_name);
  if ((*file)->size_bytes() != options.size_bytes) {
    return make_error(std::errc::invalid_argument, "swap file for " + options.guest_name + " has the wrong size");
  }
  return std::unique_ptr<SwapStore>(new SwapStore(options, std::move(*file), std::move(slots), std::move(states)));
}

SwapStore::SwapStore(SwapStoreOptions options, std::unique_ptr<host::SwapFile> file, SlotAllocator slots,
                     host::Mapping states)
    : options_(std::move(options)),
      file_(std::move(file)),
      nr_slots_(slots.nr_slots()),
      slots_(std::move(slots)),
      state_memory_(std::move(states)),
      states_(host::as_array<uint8_t>(state_memory_)) {}

Result<std::vector<Slot>> SwapStore::swap_out(std::span<const PageOut> pages) {
  std::vector<Slot> out;
  if (pages.empty()) return out;
  std::vector<uint64_t> owners;
  owners.reserve(pages.size());
  for (const PageOut& p : pages) {
    if (p.data == nullptr) return make_error(std::errc::invalid_argument, "swap out: a page without data");
    owners.push_back(p.page_index);
  }

  std::vector<SlotRun> runs;
  for (bool flushed = false;; flushed = true) {
    std::unique_lock lock(mutex_);
    auto r = slots_.allocate(owners);
    if (r) {
      runs = std::move(*r);
      for (const SlotRun& run : runs) {
        for (uint64_t s = run.first.value(); s < run.end().value(); ++s) set_state(s, SlotState::writing);
      }
      writing_ += pages.size();
      break;
    }
    if (r.error().code != std::errc::no_space_on_device) return prefixed(r.error(), "swap out for " + options_.guest_name);
    // Released slots are still allocated until punched: make them free before giving up.
    if (!flushed && !pending_.empty()) {
      lock.unlock();
      flush_quietly();
      continue;
    }
    full_.fetch_add(1, std::memory_order_relaxed);
    return make_error(std::errc::no_space_on_device,
                      log::strf("swap for %s is full: %zu pages to write, %llu of %llu slots (%s) free; raise its "
                                "swap size or reclaim otherwise",
                                options_.guest_name.c_str(), pages.size(), static_cast<ull>(slots_.free_slots()),
                                static_cast<ull>(nr_slots_), size_text(options_.size_bytes).c_str()));
  }

  // One write per run: the allocator made the runs as long as it could.
  std::vector<const std::byte*> data;
  data.reserve(pages.size());
  for (const PageOut& p : pages) data.push_back(p.data);
  size_t first_page = 0;
  for (size_t k = 0; k < runs.size(); ++k) {
    const SlotRun& run = runs[k];
    const std::span<const std::byte* const> chunk(data.data() + first_page, run.nr_slots);
    if (auto st = file_->write_pages(run.first.value() * kSlotSize, chunk); !st) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      undo_swap_out(runs, k + 1);
      return prefixed(st.error(), log::strf("swap out %zu pages of %s", pages.size(), options_.guest_name.c_str()));
    }
    first_page += run.nr_slots;
  }

  out.reserve(pages.size());
  {
    std::lock_guard lock(mutex_);
    for (const SlotRun& run : runs) {
      for (uint64_t s = run.first.value(); s < run.end().value(); ++s) {
        set_state(s, SlotState::live);
        out.push_back(Slot(s));
      }
    }
    writing_ -= pages.size();
    live_ += pages.size();
  }
  pages_out_.fetch_add(pages.size(), std::memory_order_relaxed);
  return out;
}

void SwapStore::undo_swap_out(const std::vector<SlotRun>& runs, size_t attempted) {
  {
    std::lock_guard lock(mutex_);
    for (size_t k = 0; k < runs.size(); ++k) {
      const SlotRun& run = runs[k];
      writing_ -= run.nr_slots;
      if (k < attempted) {
        // These may hold blocks now: a free slot must be a hole, so punch first.
        for (uint64_t s = run.first.value(); s < run.end().value(); ++s) {
          set_state(s, SlotState::releasing);
          pending_.push_back(s);
        }
      } else {
        for (uint64_t s = run.first.value(); s < run.end().value(); ++s) set_state(s, SlotState::free);
        if (auto st = slots_.free(run); !st) log::error("swap store of %s: %s", options_.guest_name.c_str(), st.error().message().c_str());
      }
    }
  }
  flush_quietly();
}

Status SwapStore::swap_in(std::span<const PageIn> pages) {
  if (pages.empty()) return ok();
  {
    std::lock_guard lock(mutex_);
    for (const PageIn& p : pages) {
      if (p.data == nullptr) return make_error(std::errc::invalid_argument, "swap in: a page without a buffer");
      if (!live_locked(p.slot)) {
        return make_error(std::errc::invalid_argument, log::strf("swap in for %s: slot %llu holds no page",
                                                                 options_.guest_name.c_str(), static_cast<ull>(p.slot.value())));
      }
    }
  }
  // Slot order, so that every run of consecutive slots is one read whatever order the
  // caller's pages come in (a fault-around reads back what one swap_out wrote).
  std::vector<PageIn> sorted(pages.begin(), pages.end());
  if (!std::is_sorted(sorted.begin(), sorted.end(), [](const PageIn& a, const PageIn& b) { return a.slot < b.slot; })) {
    std::sort(sorted.begin(), sorted.end(), [](const PageIn& a, const PageIn& b) { return a.slot < b.slot; });
  }
  std::vector<std::byte*> buffers;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i + 1;
    while (j < sorted.size() && sorted[j].slot == sorted[j - 1].slot + 1) ++j;
    buffers.clear();
    for (size_t k = i; k < j; ++k) buffers.push_back(sorted[k].data);
    if (auto st = file_->read_pages(sorted[i].slot.value() * kSlotSize, buffers); !st) {
      read_errors_.fetch_add(1, std::memory_order_relaxed);
      return prefixed(st.error(), log::strf("swap in %zu pages of %s at slot %llu", j - i, options_.guest_name.c_str(),
                                            static_cast<ull>(sorted[i].slot.value())));
    }
    i = j;
  }
  pages_in_.fetch_add(pages.size(), std::memory_order_relaxed);
  return ok();
}

Status SwapStore::swap_in(Slot slot, std::byte* page) {
  const PageIn in{slot, page};
  return swap_in(std::span<const PageIn>(&in, 1));
}

Status SwapStore::release(std::span<const Slot> slots) {
  bool flush = false;
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!live_locked(slots[i])) {
        // A duplicate finds its first copy already releasing: put those back.
        for (size_t k = 0; k < i; ++k) set_state(slots[k].value(), SlotState::live);
        return make_error(std::errc::invalid_argument,
                          log::strf("release swap slot %llu of %s: it holds no page%s", static_cast<ull>(slots[i].value()),
                                    options_.guest_name.c_str(), i > 0 ? " (or comes twice)" : ""));
      }
      set_state(slots[i].value(), SlotState::releasing);
    }
    for (Slot s : slots) pending_.push_back(s.value());
    live_ -= slots.size();
    flush = pending_.size() >= options_.punch_batch_slots;
  }
  released_.fetch_add(slots.size(), std::memory_order_relaxed);
  if (flush) flush_quietly();
  return ok();
}

Status SwapStore::flush_releases() {
  std::vector<uint64_t> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
    punching_ += batch.size();
  }
  if (batch.empty()) return ok();
  std::sort(batch.begin(), batch.end());
  const std::vector<SlotRun> runs = runs_of_sorted(batch);
  std::vector<host::ByteRange> ranges;
  ranges.reserve(runs.size());
  for (const SlotRun& r : runs) ranges.push_back(bytes_of(r));
  const Status punched = file_->punch(ranges);

  std::lock_guard lock(mutex_);
  punching_ -= batch.size();
  if (!punched) {
    punch_errors_.fetch_add(1, std::memory_order_relaxed);
    pending_.insert(pending_.end(), batch.begin(), batch.end());
    return prefixed(punched.error(), log::strf("swap for %s: punch %zu released slots", options_.guest_name.c_str(), batch.size()));
  }
  for (const SlotRun& r : runs) {
    for (uint64_t s = r.first.value(); s < r.end().value(); ++s) set_state(s, SlotState::free);
    TIDE_TRY(slots_.free(r));
  }
  punched_.fetch_add(batch.size(), std::memory_order_relaxed);
  return ok();
}

void SwapStore::flush_quietly() {
  if (auto st = flush_releases(); !st) log::warn("%s (retried at the next batch)", st.error().message().c_str());
}

std::optional<uint64_t> SwapStore::owner(Slot slot) const {
  std::lock_guard lock(mutex_);
  if (!live_locked(slot)) return std::nullopt;
  return slots_.owner(slot);
}

SwapStats SwapStore::stats() const {
  SwapStats s;
  {
    std::lock_guard lock(mutex_);
    s.slots_total = nr_slots_;
    s.slots_live = live_;
    s.slots_writing = writing_;
    s.slots_releasing = pending_.size() + punching_;
  }
  s.pages_out = pages_out_.load(std::memory_order_relaxed);
  s.pages_in = pages_in_.load(std::memory_order_relaxed);
  s.bytes_out = s.pages_out * kSlotSize;
  s.bytes_in = s.pages_in * kSlotSize;
  s.slots_released = released_.load(std::memory_order_relaxed);
  s.slots_punched = punched_.load(std::memory_order_relaxed);
  const host::SwapFileCalls calls = file_->calls();
  s.write_calls = calls.writes;
  s.read_calls = calls.reads;
  s.punch_calls = calls.punches;
  s.full = full_.load(std::memory_order_relaxed);
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  s.read_errors = read_errors_.load(std::memory_order_relaxed);
  s.punch_errors = punch_errors_.load(std::memory_order_relaxed);
  return s;
}

Status SwapStore::check_invariants() const {
  std::lock_guard lock(mutex_);
  const std::string& g = options_.guest_name;
  TIDE_TRY(slots_.check_invariants());
  if (file_->size_bytes() != nr_slots_ * kSlotSize) return broken(g, "the file's size is not the area's");
  uint64_t count[4] = {};
  for (uint64_t s = 0; s < nr_slots_; ++s) {
    const SlotState st = state(s);
    if (static_cast<uint8_t>(st) > static_cast<uint8_t>(SlotState::releasing)) {
      return broken(g, log::strf("slot %llu has state %u", static_cast<ull>(s), static_cast<unsigned>(st)));
    }
    ++count[static_cast<uint8_t>(st)];
    if ((st != SlotState::free) != slots_.in_use(Slot(s))) {
      return broken(g, log::strf("slot %llu is %s in the allocator but %s here", static_cast<ull>(s),
                                 slots_.in_use(Slot(s)) ? "used" : "free", st == SlotState::free ? "free" : "in use"));
    }
  }
  const uint64_t releasing = pending_.size() + punching_;
  if (count[static_cast<uint8_t>(SlotState::writing)] != writing_ || count[static_cast<uint8_t>(SlotState::live)] != live_ ||
      count[static_cast<uint8_t>(SlotState::releasing)] != releasing) {
    return broken(g, log::strf("slots writing/live/releasing: %llu/%llu/%llu counted, %llu/%llu/%llu in the tables",
                               static_cast<ull>(writing_), static_cast<ull>(live_), static_cast<ull>(releasing),
                               static_cast<ull>(count[1]), static_cast<ull>(count[2]), static_cast<ull>(count[3])));
  }
  for (uint64_t s : pending_) {
    if (s >= nr_slots_ || state(s) != SlotState::releasing) {
      return broken(g, log::strf("slot %llu waits for a punch but is not releasing", static_cast<ull>(s)));
    }
  }
  return ok();
}

}  // namespace tide::gmm::swap
