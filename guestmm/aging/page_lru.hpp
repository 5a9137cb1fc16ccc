// PageLru: one guest's resident pages, by page index (P2M window order, [0, nr_pages)), on
// two LRU lists, inactive and active, aged the way Linux ages mapped pages (ARCHITECTURE.md
// §3 "Aging"). It owns only the lists and per-page aging flags; it knows nothing of frames,
// PTEs or the P2M.
// Glossary:
//   head/tail   most / least recently inserted end of a list. New, deactivated and
//               rotated pages enter at the head; victims and deactivations leave the tail
//   referenced  one piece of access evidence (a sampled read fault, a dirty-log bit) since
//               the scanner last looked at the page. A second one while inactive promotes
//               the page: the "used once" rule, so pages touched once go first
//   isolated    taken off the inactive list as a reclaim victim: still resident, on no list,
//               until the reclaimer remove()s it (reclaimed) or putback()s it (failed)
//   sampled     the sampler dropped the page's window PTEs and no fault has restored them
//   seen        already counted as a reference in this sampling period (PageSampler)
// Invariants (check_invariants): every resident page is on exactly one of inactive, active,
// isolated; non-resident pages have no flags; links are consistent; counts match.
// Memory: 9 bytes per page (two 32-bit links, one flag byte), in lazily-touched tables.
// Locking: none inside. The owner serializes every call under one per-guest lock. All calls
// are O(1) except age() and isolate_cold() (O(pages scanned)), check_invariants() and
// pages_on() (O(nr_pages)).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/host/mapping.hpp"

namespace tide::gmm::aging {

enum class LruList : uint8_t { none, inactive, active, isolated };

[[nodiscard]] const char* lru_list_name(LruList l);

// What one piece of access evidence did to a page.
enum class Touch : uint8_t {
  not_resident,        // the page is on no list and not isolated: ignored
  referenced,          // first evidence: the referenced flag is now set
  activated,           // second evidence while inactive: moved to the active head
  already_referenced,  // active or isolated page whose flag was already set: no change
  same_period,         // (PageSampler only) already counted in this sampling period
};

[[nodiscard]] const char* touch_name(Touch t);

// Outcome of one age() or isolate_cold() call.
struct ScanStats {
  uint64_t scanned = 0;  // pages looked at, from the tail
  uint64_t rotated = 0;  // referenced pages given a second chance: flag cleared, back to the head
  uint64_t moved = 0;    // pages deactivated (age) or isolated (isolate_cold)
};

class PageLru {
 public:
  // Largest guest: page indices and links are 32-bit, two values are the list heads.
  static constexpr uint64_t kMaxPages = std::numeric_limits<uint32_t>::max() - 2;
  static constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();

  // Every page starts non-resident (on no list).
  // Errors: nr_pages is 0 or above kMaxPages (invalid_argument); no address space.
  [[nodiscard]] static Result<PageLru> create(uint64_t nr_pages);

  // Move-only; a moved-from PageLru has no pages.
  PageLru(PageLru&& o) noexcept;
  PageLru& operator=(PageLru&& o) noexcept;
  PageLru(const PageLru&) = delete;
  PageLru& operator=(const PageLru&) = delete;
  ~PageLru() = default;

  // --- Residency (fault fill, swap-in; release, swap-out, balloon) -------------------------
  // The page became resident: onto the head of `list` (inactive or active) with no flags.
  // New pages go to the inactive list; `active` is for a refault the caller knows was a
  // recent eviction. False (no change) if the index is out of range, the list is not
  // inactive/active, or the page is already resident.
  bool add(uint64_t index, LruList list = LruList::inactive);
  // The page stopped being resident (from a list or isolated): all its flags are cleared.
  // False if it was not resident.
  bool remove(uint64_t index);

  // --- Access evidence (fault path, dirty log) --------------------------------------------
  // Linux's mark_page_accessed: sets the referenced flag; if it was already set and the page
  // is inactive, promotes it to the active head and clears the flag. Active and isolated
  // pages only get the flag. Every call counts: callers that must count one reference per
  // period go through PageSampler::note_reference.
  Touch mark_referenced(uint64_t index);

  // --- Reclaim ----------------------------------------------------------------------------
  // Takes up to `max_victims` unreferenced pages from the inactive tail, oldest first, and
  // marks them isolated; referenced pages met on the way get a second chance (flag cleared,
  // moved to the inactive head). Looks at no more than `max_scan` pages, nor at any page
  // twice: at most the inactive list's size at the call. Victims are appended to `victims`.
  ScanStats isolate_cold(uint64_t max_victims, std::vector<uint64_t>& victims, uint64_t max_scan = kAll);
  // A victim whose reclaim failed goes back to the inactive head, keeping its referenced
  // flag. False if the page is not isolated (e.g. it was removed meanwhile).
  bool putback(uint64_t index);
  // Deactivation: moves up to `max_deactivate` unreferenced pages from the active tail to
  // the inactive head; referenced ones rotate back to the active head with the flag
  // cleared. Looks at no more than `max_scan` pages, nor at any page twice.
  ScanStats age(uint64_t max_deactivate, uint64_t max_scan = kAll);

  // --- For PageSampler -------------------------------------------------------------------
  // Marks a page on a list (not isolated) sampled; false if it is not, or already sampled.
  bool set_sampled(uint64_t index);
  // Clears the sampled flag; true if it was set.
  bool clear_sampled(uint64_t index);
  // Marks a resident page seen in this period; false if it is not resident or already seen.
  bool set_seen(uint64_t index);
  void clear_seen(uint64_t index);

  // --- Queries ----------------------------------------------------------------------------
  [[nodiscard]] uint64_t nr_pages() const { return nr_pages_; }
  [[nodiscard]] uint64_t nr_inactive() const { return nr_inactive_; }
  [[nodiscard]] uint64_t nr_active() const { return nr_active_; }
  [[nodiscard]] uint64_t nr_isolated() const { return nr_isolated_; }
  [[nodiscard]] uint64_t nr_resident() const { return nr_inactive_ + nr_active_ + nr_isolated_; }
  [[nodiscard]] uint64_t nr_sampled() const { return nr_sampled_; }
  [[nodiscard]] LruList list_of(uint64_t index) const;
  [[nodiscard]] bool resident(uint64_t index) const { return list_of(index) != LruList::none; }
  [[nodiscard]] bool referenced(uint64_t index) const { return has(index, kReferenced); }
  [[nodiscard]] bool sampled(uint64_t index) const { return has(index, kSampled); }
  [[nodiscard]] bool seen(uint64_t index) const { return has(index, kSeen); }
  // The pages of `list` (inactive or active), head first. For tests and diagnostics.
  [[nodiscard]] std::vector<uint64_t> pages_on(LruList list) const;

  // Links consistent, every page on at most one list, counts match the lists and the flags,
  // flags only on resident pages. Errors: state_not_recoverable, naming the first problem.
  [[nodiscard]] Status check_invariants() const;

 private:
  friend struct PageLruTestAccess;  // tests corrupt the tables to see check_invariants() fail

  enum Flag : uint8_t {
    kInactive = 1 << 0,
    kActive = 1 << 1,
    kIsolated = 1 << 2,
    kReferenced = 1 << 3,
    kSampled = 1 << 4,
    kSeen = 1 << 5,
  };
  static constexpr uint8_t kListMask = kInactive | kActive | kIsolated;

  struct Links {
    uint32_t prev;
    uint32_t next;
  };

  PageLru() = default;

  [[nodiscard]] bool has(uint64_t index, uint8_t f) const { return index < nr_pages_ && (flags_[index] & f) != 0; }
  void set(uint64_t index, uint8_t f) { flags_[index] = static_cast<uint8_t>(flags_[index] | f); }
  void clear(uint64_t index, uint8_t f) { flags_[index] = static_cast<uint8_t>(flags_[index] & ~f); }
  // Head sentinel of a list: the two link slots after the pages.
  [[nodiscard]] uint32_t sentinel(uint8_t list_flag) const {
    return static_cast<uint32_t>(list_flag == kInactive ? nr_pages_ : nr_pages_ + 1);
  }
  [[nodiscard]] uint64_t& count(uint8_t list_flag) { return list_flag == kInactive ? nr_inactive_ : nr_active_; }
  void link_head(uint8_t list_flag, uint32_t page);
  void unlink(uint32_t page);
  [[nodiscard]] Status check_list(uint8_t list_flag, uint64_t expected) const;

  host::Mapping links_memory_;
  host::Mapping flags_memory_;
  Links* links_ = nullptr;   // nr_pages_ + 2 entries; valid only for pages on a list
  uint8_t* flags_ = nullptr;  // nr_pages_ entries; 0 = not resident
  uint64_t nr_pages_ = 0;
  uint64_t nr_inactive_ = 0;
  uint64_t nr_active_ = 0;
  uint64_t nr_isolated_ = 0;
  uint64_t nr_sampled_ = 0;
};

}  // namespace tide::gmm::aging
