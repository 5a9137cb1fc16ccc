// SlotAllocator: which 4 KiB slots of one guest's swap area are in use, and by which guest
// page (its P2M index, window order) each one is held, for the audit.
// Policy: next-fit over 256-slot clusters (1 MiB, Linux's SWAPFILE_CLUSTER), so that pages
// swapped out together, or one batch after another, land in adjacent slots and reach the
// file in few, sequential writes. allocate() takes slots
//   1. at the cursor (where the previous allocation ended), as long as they are free;
//   2. then from wholly free clusters, the next one at or after the cursor first (wrapping);
//      a run continues past a cluster's end while the slots stay free, so adjacent free
//      clusters give one run;
//   3. only when no cluster is wholly free, from the holes of partly used clusters, next-fit
//      from the cursor (fragmentation: the batch becomes several runs).
// Cost: steps 1-2 are O(slots taken + clusters / 64); step 3 scans the used bitmap from the
// cursor, at worst O(slots / 64) words per run found. Free is O(slots freed).
// Invariants (check_invariants): a slot has an owner iff its used bit is set; each cluster's
// used count and free bit match its slots; the totals match; the cursor is inside the area.
// Locking: none; the owner (SwapStore) serializes every call.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/host/mapping.hpp"
#include "guestmm/types.hpp"

namespace tide::gmm::swap {

struct SlotTag {};
// A 4 KiB slot of a swap area: slot s is bytes [s * kSlotSize, (s + 1) * kSlotSize) of the
// swap file. Distinct from Gfn/Mfn so a slot number cannot be used as a frame.
using Slot = Number<SlotTag>;

inline constexpr uint64_t kSlotSize = kPageSize;
inline constexpr uint64_t kClusterSlots = 256;  // Linux SWAPFILE_CLUSTER: 1 MiB per cluster

// Slots [first, first + nr_slots).
struct SlotRun {
  Slot first;
  uint64_t nr_slots = 0;
  [[nodiscard]] Slot end() const { return first + nr_slots; }
  bool operator==(const SlotRun&) const = default;
};

class SlotAllocatorTestPeer;

class SlotAllocator {
 public:
  // Largest owner value (a P2M index is far smaller: 2^60 pages).
  static constexpr uint64_t kMaxOwner = UINT64_MAX - 1;

  // An area of `nr_slots` free slots. The owner table is lazily touched anonymous memory
  // (8 bytes per slot, resident only where slots have been used). Errors: nr_slots == 0;
  // no memory for the tables.
  [[nodiscard]] static Result<SlotAllocator> create(uint64_t nr_slots);

  SlotAllocator(SlotAllocator&&) noexcept = default;
  SlotAllocator& operator=(SlotAllocator&&) noexcept = default;
  SlotAllocator(const SlotAllocator&) = delete;
  SlotAllocator& operator=(const SlotAllocator&) = delete;

  // One slot per owner: the i-th slot counted through the runs in order holds owners[i].
  // Returns the runs in that order (as few as the policy above finds). All or nothing.
  // Errors: no_space_on_device when fewer than owners.size() slots are free (nothing
  // changes); invalid_argument for an owner above kMaxOwner. No owners: no runs.
  [[nodiscard]] Result<std::vector<SlotRun>> allocate(std::span<const uint64_t> owners);
  [[nodiscard]] Result<Slot> allocate_one(uint64_t owner);

  // Frees every slot of `run`. Errors: invalid_argument if a slot of it is outside the area
  // or already free (nothing changes: a double free is reported, not half done).
  [[nodiscard]] Status free(SlotRun run);
  [[nodiscard]] Status free(Slot slot) { return free(SlotRun{slot, 1}); }

  // The page a slot holds; nullopt if the slot is free or outside the area.
  [[nodiscard]] std::optional<uint64_t> owner(Slot slot) const;
  [[nodiscard]] bool in_use(Slot slot) const { return slot.value() < nr_slots_ && test(slot.value()); }

  [[nodiscard]] uint64_t nr_slots() const { return nr_slots_; }
  [[nodiscard]] uint64_t used_slots() const { return used_; }
  [[nodiscard]] uint64_t free_slots() const { return nr_slots_ - used_; }
  [[nodiscard]] uint64_t nr_clusters() const { return nr_clusters_; }
  [[nodiscard]] uint64_t free_clusters() const { return free_clusters_; }
  // Where the next allocation starts looking.
  [[nodiscard]] Slot cursor() const { return Slot(cursor_); }

  // Walks every slot (O(nr_slots)); for tests and the debug audit.
  [[nodiscard]] Status check_invariants() const;

 private:
  friend class SlotAllocatorTestPeer;  // corrupts the tables in audit tests
  SlotAllocator() = default;

  [[nodiscard]] bool test(uint64_t s) const { return (used_bits_[s / 64] >> (s % 64)) & 1; }
  [[nodiscard]] uint64_t cluster_size(uint64_t c) const;
  void mark_used(uint64_t s, uint64_t owner);
  void mark_free(uint64_t s);
  // Takes free slots from `s` on (at most `max`, stopping at a used slot or the area's end)
  // for owners[*taken...]; appends the run. Returns how many it took.
  uint64_t take_at(uint64_t s, uint64_t max, std::span<const uint64_t> owners, uint64_t* taken,
                   std::vector<SlotRun>* runs);
  // The first wholly free cluster at or after `from`, wrapping; requires free_clusters_ > 0.
  [[nodiscard]] uint64_t next_free_cluster(uint64_t from) const;
  // The first free slot at or after `from`, wrapping; requires a free slot.
  [[nodiscard]] uint64_t next_free_slot(uint64_t from) const;

  uint64_t nr_slots_ = 0;
  uint64_t nr_clusters_ = 0;
  uint64_t used_ = 0;
  uint64_t cursor_ = 0;
  uint64_t free_clusters_ = 0;
  std::vector<uint64_t> used_bits_;          // one bit per slot
  std::vector<uint16_t> cluster_used_;       // used slots per cluster
  std::vector<uint64_t> free_cluster_bits_;  // one bit per cluster: none of its slots used
  host::Mapping owner_memory_;
  uint64_t* owners_ = nullptr;  // owner + 1 per slot; 0 = free
};

}  // namespace tide::gmm::swap
