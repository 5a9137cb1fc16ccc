// P2m: one guest's physical-to-machine table — for every RAM page, in window order
// (the guest's RAM ranges laid end to end), a 64-bit entry: 4 bits of state and a payload.
//   Empty       never touched, or given back ("deflated"): the next touch faults a new frame
//   Present     payload = the MFN the guest's page is
//   Ballooned   given to the balloon (issue 4); Reported: reported free by the guest
//   Swapped     payload = swap slot (issue 5)
//   Foreign     payload = grant reference (grants)
//   Shared      payload = MFN, copy-on-write (page sharing)
// For the states without a frame, the payload keeps (last MFN + 1): the frame the window
// still views there, so a refault can reuse it without changing the window (0 = none).
// The table is lazily-touched memory; a zero entry is Empty with no hint.
// Locking: entries change only under their extent's lock (512 pages, 2 MiB); readers that
// need no consistency (statistics) may load them at any time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/guest_ram.hpp"
#include "guestmm/host/mapping.hpp"
#include "guestmm/types.hpp"

namespace tide::gmm {

enum class PageState : uint8_t { empty = 0, present, ballooned, reported, swapped, foreign, shared };

[[nodiscard]] const char* page_state_name(PageState s);

class P2mEntry {
 public:
  constexpr P2mEntry() = default;
  constexpr explicit P2mEntry(uint64_t raw) : raw_(raw) {}
  [[nodiscard]] static constexpr P2mEntry present(Mfn m) { return P2mEntry((m.value() << 4) | uint64_t(PageState::present)); }
  // A state without a frame, remembering the frame the window still views (if any).
  [[nodiscard]] static constexpr P2mEntry frameless(PageState s, std::optional<Mfn> window_frame) {
    return P2mEntry(((window_frame ? window_frame->value() + 1 : 0) << 4) | uint64_t(s));
  }
  // A page in the swap file, at `slot`.
  [[nodiscard]] static constexpr P2mEntry swapped(uint64_t slot) { return P2mEntry((slot << 4) | uint64_t(PageState::swapped)); }
  [[nodiscard]] constexpr PageState state() const { return static_cast<PageState>(raw_ & 0xf); }
  [[nodiscard]] constexpr uint64_t payload() const { return raw_ >> 4; }
  [[nodiscard]] constexpr bool has_frame() const { return state() == PageState::present || state() == PageState::shared; }
  [[nodiscard]] constexpr Mfn mfn() const { return Mfn(payload()); }
  // The frame the window views at this page: the MFN if it has one, else the hint.
  [[nodiscard]] constexpr std::optional<Mfn> window_frame() const {
    if (has_frame()) return mfn();
    if (state() == PageState::swapped || state() == PageState::foreign || payload() == 0) return std::nullopt;
    return Mfn(payload() - 1);
  }
  [[nodiscard]] constexpr uint64_t raw() const { return raw_; }
  constexpr bool operator==(const P2mEntry&) const = default;

 private:
  uint64_t raw_ = 0;
};

class P2m {
 public:
  // Errors: ranges that are not page-aligned, sorted and disjoint; no memory for the table.
  [[nodiscard]] static Result<P2m> create(const std::vector<RamRange>& ranges);

  [[nodiscard]] uint64_t nr_pages() const { return nr_pages_; }
  [[nodiscard]] uint64_t nr_extents() const { return (nr_pages_ + kPagesPerExtent - 1) / kPagesPerExtent; }
  [[nodiscard]] const std::vector<RamRange>& ranges() const { return ranges_; }

  // Page index (window order) of a GFN, or nullopt if the GFN is not RAM.
  [[nodiscard]] std::optional<uint64_t> index_of(Gfn gfn) const;
  [[nodiscard]] Gfn gfn_at(uint64_t index) const;
  // Pages of extent `e` (512, or fewer for the last one).
  [[nodiscard]] uint64_t extent_pages(uint64_t e) const;

  [[nodiscard]] P2mEntry load(uint64_t index) const {
    return P2mEntry(std::atomic_ref<uint64_t>(table_[index]).load(std::memory_order_acquire));
  }
  // Requires the extent lock of `index`.
  void store(uint64_t index, P2mEntry e) {
    std::atomic_ref<uint64_t>(table_[index]).store(e.raw(), std::memory_order_release);
  }
  [[nodiscard]] std::mutex& extent_lock(uint64_t extent) const { return locks_[extent]; }

 private:
  std::vector<RamRange> ranges_;
  std::vector<uint64_t> range_first_index_;
  uint64_t nr_pages_ = 0;
  host::Mapping memory_;
  uint64_t* table_ = nullptr;
  std::unique_ptr<std::mutex[]> locks_;
};

}  // namespace tide::gmm
