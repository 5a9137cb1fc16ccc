// SwapStore: one guest's swap — a SlotAllocator over a host::SwapFile. Reclaim writes cold
// pages out in batches (swap_out), the fault path reads them back (swap_in) and then lets
// the slot go (release); freed slots are punched out of the file in coalesced batches.
// Slot life:  free -> writing -> live -> releasing -> free
//   writing    allocated by a swap_out whose write is under way (or failed, being undone)
//   live       holds the page of its owner (P2M index); swap_in reads it
//   releasing  released, waiting to be punched; not reusable until punched, so a punch can
//              never hit a slot that a later swap_out has rewritten
// Invariants (check_invariants): the allocator's own; a slot is in use in the allocator iff
// its state is not free; the per-state counts match; every free slot is a hole in the file
// (fresh, or punched before it was freed), so the file's disk usage follows live slots.
// Threads: any thread may call anything; one mutex guards the tables and no I/O happens
// under it, so a swap-in does not wait behind a large swap-out. The caller serializes the
// calls for one slot (the P2M extent lock of the page it holds): swap_in and release of the
// same slot must not race.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "guestmm/base/error.hpp"
#include "guestmm/host/mapping.hpp"
#include "guestmm/host/swap_file.hpp"
#include "guestmm/swap/slot_allocator.hpp"

namespace tide::gmm::swap {

struct SwapStoreOptions {
  std::string guest_name;
  // The swap file's size limit (a non-zero multiple of 4 KiB): one slot per 4 KiB. The
  // memcg's swap.max is enforced elsewhere; this is the ceiling of the file itself.
  uint64_t size_bytes = 0;
  std::string directory;  // empty: host::default_swap_directory()
  bool allow_tmpfile = true;
  // Released slots are punched once this many wait (and by flush_releases(), and when a
  // swap_out finds the area full): 512 slots = 2 MiB, an extent's worth.
  uint64_t punch_batch_slots = 512;
};

// A page to write: its P2M index (recorded as the slot's owner) and its 4 KiB of bytes at a
// page-aligned address (a pool frame through the pool map).
struct PageOut {
  uint64_t page_index = 0;
  const std::byte* data = nullptr;
};
// A page to read: the slot and 4 KiB of page-aligned memory to read it into.
struct PageIn {
  Slot slot;
  std::byte* data = nullptr;
};

struct SwapStats {
  uint64_t slots_total = 0;
  uint64_t slots_live = 0;
  uint64_t slots_writing = 0;
  uint64_t slots_releasing = 0;   // released, not punched yet
  uint64_t pages_out = 0;         // written by successful swap_outs
  uint64_t pages_in = 0;          // read by successful swap_ins
  uint64_t bytes_out = 0;
  uint64_t bytes_in = 0;
  uint64_t slots_released = 0;
  uint64_t slots_punched = 0;
  uint64_t write_calls = 0;       // system calls on the file (pwritev, preadv, fallocate)
  uint64_t read_calls = 0;
  uint64_t punch_calls = 0;
  uint64_t full = 0;              // swap_outs refused because the file was full
  uint64_t write_errors = 0;
  uint64_t read_errors = 0;
  uint64_t punch_errors = 0;
};

class SwapStore {
 public:
  // Creates the guest's swap file through `files` (used only here: the store owns the
  // file). Errors: bad options (invalid_argument); the file's creation errors.
  [[nodiscard]] static Result<std::unique_ptr<SwapStore>> create(host::SwapFiles& files, const SwapStoreOptions& options);

  SwapStore(const SwapStore&) = delete;
  SwapStore& operator=(const SwapStore&) = delete;

  // Writes the pages to newly allocated slots and returns them, slot i for pages[i]. The
  // slots are taken as contiguously as the area allows and each contiguous run is written
  // with one pwritev (per 1024 pages), so pages given in P2M order become sequential I/O.
  // All or nothing: on any error no slot is live, the slots written so far are punched
  // and freed, and the caller still owns every page. Errors: no_space_on_device when the
  // file is full (after punching what waits to be released); invalid_argument for a null
  // page; the file's errors (ENOSPC from the filesystem: the file is sparse, so its size
  // is a ceiling, not a reservation; EIO).
  [[nodiscard]] Result<std::vector<Slot>> swap_out(std::span<const PageOut> pages);

  // Reads every page's slot into its buffer. Slots that follow each other are read with
  // one preadv, in whatever order they come. The slots stay live (release them once the
  // pages are safely back). Errors: invalid_argument if a slot is not live (nothing is
  // read); the file's errors (the slots stay live, a retry may succeed).
  [[nodiscard]] Status swap_in(std::span<const PageIn> pages);
  [[nodiscard]] Status swap_in(Slot slot, std::byte* page);

  // The slots' contents are no longer needed. They are punched in batches (see
  // SwapStoreOptions::punch_batch_slots) and become free once punched. Errors:
  // invalid_argument if a slot is not live or comes twice (nothing changes). A failed
  // punch is not the caller's problem: it is counted, logged, and retried at the next batch.
  [[nodiscard]] Status release(std::span<const Slot> slots);
  [[nodiscard]] Status release(Slot slot) { return release(std::span<const Slot>(&slot, 1)); }
  // Punches every slot waiting to be released now and frees it. Errors: the punch error
  // (those slots wait for the next try).
  [[nodiscard]] Status flush_releases();

  // The P2M index a live slot holds; nullopt for any other slot.
  [[nodiscard]] std::optional<uint64_t> owner(Slot slot) const;
  [[nodiscard]] uint64_t nr_slots() const { return nr_slots_; }
  [[nodiscard]] const std::string& guest_name() const { return options_.guest_name; }
  [[nodiscard]] SwapStats stats() const;
  [[nodiscard]] const host::SwapFile& file() const { return *file_; }

  // Walks every slot (O(nr_slots)). Thread: any.
  [[nodiscard]] Status check_invariants() const;

 private:
  enum class SlotState : uint8_t { free = 0, writing, live, releasing };

  SwapStore(SwapStoreOptions options, std::unique_ptr<host::SwapFile> file, SlotAllocator slots, host::Mapping states);
  [[nodiscard]] SlotState state(uint64_t s) const { return static_cast<SlotState>(states_[s]); }
  void set_state(uint64_t s, SlotState st) { states_[s] = static_cast<uint8_t>(st); }
  // Requires mutex_. Whether `slot` is inside the area and live.
  [[nodiscard]] bool live_locked(Slot slot) const { return slot.value() < nr_slots_ && state(slot.value()) == SlotState::live; }
  // Undoes a failed swap_out: `attempted` runs may hold written blocks and go through the
  // release path; the others are still holes and are freed at once.
  void undo_swap_out(const std::vector<SlotRun>& runs, size_t attempted);
  // flush_releases() for internal callers: errors are counted and logged, not returned.
  void flush_quietly();

  const SwapStoreOptions options_;
  const std::unique_ptr<host::SwapFile> file_;
  const uint64_t nr_slots_;

  mutable std::mutex mutex_;
  SlotAllocator slots_;
  host::Mapping state_memory_;
  uint8_t* states_ = nullptr;  // SlotState per slot, lazily touched (0 = free)
  uint64_t writing_ = 0;
  uint64_t live_ = 0;
  std::vector<uint64_t> pending_;  // releasing slots not yet handed to a punch
  uint64_t punching_ = 0;          // releasing slots in a punch under way

  std::atomic<uint64_t> pages_out_{0}, pages_in_{0}, released_{0}, punched_{0}, full_{0};
  std::atomic<uint64_t> write_errors_{0}, read_errors_{0}, punch_errors_{0};
};

}  // namespace tide::gmm::swap
