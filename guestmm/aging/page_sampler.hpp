// PageSampler: turns tide's access evidence into references on a PageLru. The host kernel
// keeps the accessed bits of the guest window's PTEs to itself, so reads are caught by
// sampling: each period a clock hand picks resident pages whose window PTEs the integrator
// drops (the data stays in the pool); the guest's next access to such a page is a minor
// fault, reported here with on_fault(). A page sampled and not faulted back for a whole
// period is cold evidence. Writes come from KVM's dirty log (mark_dirty()).
// A period runs from one begin_round() to the next. Each page counts as referenced at most
// once per period, however many faults and dirty bits it shows, so the "used once" rule
// means accessed in two different periods — Linux's rule for mapped pages, whose accessed
// bits are looked at once per scan.
// The hand walks page indices, not list order: it covers every resident page in
// ceil(resident / samples per round) rounds whatever the lists do meanwhile, it cannot be
// left pointing at a page that moved, and the pages it picks come in index runs, which
// are runs of the window the integrator can drop with one call each.
// State: the hand, the previous round's runs and the pages seen this period; the per-page
// sampled and seen flags live in the PageLru, so remove() forgets them with the page.
// Locking: none inside; every call needs the PageLru's lock.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "guestmm/aging/page_lru.hpp"

namespace tide::gmm::aging {

struct PageRun {
  uint64_t first = 0;  // page index
  uint64_t count = 0;

  constexpr bool operator==(const PageRun&) const = default;
};

struct SampleRound {
  // Pages newly sampled: drop their window PTEs. In hand order; a run never wraps.
  std::vector<PageRun> to_unmap;
  uint64_t sampled = 0;  // pages in to_unmap
  uint64_t visited = 0;  // indices the hand passed (at most one lap)
  bool wrapped = false;  // the hand passed the last index this round
  // The period that just ended:
  uint64_t faults = 0;         // sampled pages faulted back (from any earlier round)
  uint64_t cold = 0;           // pages sampled by the previous round still not faulted back
  uint64_t still_sampled = 0;  // pages whose PTEs stay dropped, before this round's samples
};

// Totals since creation; the integrator exports them as the guest's counters.
struct SamplerStats {
  uint64_t rounds = 0;
  uint64_t sampled = 0;           // pages handed out to unmap
  uint64_t faults = 0;            // on_fault() calls that found a sampled page
  uint64_t cold = 0;              // sum of SampleRound::cold
  uint64_t dirty_bits = 0;        // set bits mark_dirty() read (inside the guest)
  uint64_t references = 0;        // evidence passed on to the PageLru (once per page per period)
  uint64_t same_period = 0;       // evidence dropped: that page was already counted this period
  uint64_t out_of_range = 0;      // dirty bits beyond the guest's pages (ignored)
};

class PageSampler {
 public:
  // Sampler thread, once per period: ends the current period (counts the previous round's
  // cold pages, forgets who was seen) and samples up to `max_samples` resident pages from
  // the hand on, skipping pages already sampled, isolated or not resident. Visits each
  // index at most once per call. Cost O(indices visited + pages seen last period).
  [[nodiscard]] SampleRound begin_round(PageLru& lru, uint64_t max_samples);

  // Fault path, for a fault on a resident page's window: true if the page was sampled (its
  // flag is cleared and the access counted as a reference). Whatever the answer, the
  // caller resolves the fault: the page may have been sampled and then removed and added.
  bool on_fault(PageLru& lru, uint64_t index);

  // Dirty-log reader: `bitmap` is one memslot's log in KVM's format (bit i of the slot at
  // bit i % 64 of 64-bit word i / 64) whose first page is page index `first_index`; only
  // the first `nr_bits` bits are read, and only words the span holds. Each set bit is a
  // reference to a resident page. Returns the references passed on to the PageLru.
  uint64_t mark_dirty(PageLru& lru, uint64_t first_index, std::span<const uint64_t> bitmap, uint64_t nr_bits);

  // Any other access evidence (e.g. a device that read the page through the pool map,
  // which the window's faults never show), counted once per period.
  Touch note_reference(PageLru& lru, uint64_t index);

  [[nodiscard]] uint64_t hand() const { return hand_; }
  [[nodiscard]] const SamplerStats& stats() const { return stats_; }

 private:
  uint64_t hand_ = 0;
  uint64_t faults_this_period_ = 0;
  std::vector<PageRun> last_round_;
  std::vector<uint32_t> seen_;  // pages with the seen flag set this period (may repeat)
  SamplerStats stats_;
};

}  // namespace tide::gmm::aging
