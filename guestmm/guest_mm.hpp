// GuestMm: one guest's memory under tide's allocator — its P2M, its RAM window (views of
// pool frames watched by a userfaultfd), its frame cache and its figures.
//
// Faults (fault server thread): a touch of a page without a frame allocates one — a whole
// 2 MiB block when every page of its extent is Empty (fault-around), else one frame,
// reusing the frame the window already views there when it is free — maps it, fills it
// with zeroes (or zeroes a hot frame), publishes Present in the P2M and wakes the faulter.
// Release (any thread): pages back to a frameless state; their frames are punched in
// coalesced ranges (or kept hot) and freed. Every P2M transition holds the extent lock
// (fault-vs-release: one lock per 2 MiB unit, held across the whole fault).
// Invariant: a frame is mapped by its P2M entry only while Present; the window may keep
// viewing a freed frame, but every access without a PTE goes through the fault server,
// which consults the P2M, so a view of a freed frame can never show another guest's data.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "guestmm/aging/page_lru.hpp"
#include "guestmm/aging/page_sampler.hpp"
#include "guestmm/frame_cache.hpp"
#include "guestmm/guest_memory.hpp"
#include "guestmm/host/host_memory.hpp"
#include "guestmm/memcg/memcg_tree.hpp"
#include "guestmm/p2m.hpp"
#include "guestmm/reclaim/guest_limits.hpp"
#include "guestmm/swap/swap_store.hpp"

namespace tide::gmm {

class MemoryManager;

// Figures of one guest (monotonic counters except `resident`).
struct GuestMmStats {
  uint64_t resident_frames = 0;  // pages Present now
  uint64_t faults = 0;           // faults that brought a frame
  uint64_t fault_around = 0;     // ... of which filled a whole 2 MiB extent
  uint64_t refills = 0;          // faults on Present pages (PTE refilled, or raced)
  uint64_t frames_released = 0;  // frames taken back by release()
  uint64_t release_calls = 0;
  uint64_t window_remaps = 0;    // window views moved to another frame
  uint64_t hot_reuses = 0;       // faults served with a hot frame
  uint64_t swapped_pages = 0;    // pages Swapped now
  uint64_t swap_in = 0;          // pages brought back from the swap file
  uint64_t swap_out = 0;         // pages written to the swap file
  uint64_t ballooned_frames = 0; // frames released to the balloon (inflate), in total
  uint64_t ballooned_pages = 0;  // pages given to the balloon (with a frame or not), in total
  uint64_t parked_faults = 0;    // faults waiting for memory now (over max, or pool empty)
  uint64_t throttled_faults = 0; // faults served over high and held until reclaim ran, in total
  uint64_t sampled_faults = 0;   // minor faults on pages the aging sampler unmapped, in total
};

// The aging and swap state of one guest, for reports.
struct GuestReclaimInfo {
  uint64_t lru_inactive = 0, lru_active = 0, lru_isolated = 0, lru_sampled = 0;
  aging::SamplerStats sampler;
  bool swap_created = false;
  std::string swap_directory;   // where the (unlinked) file is or will be
  bool swap_direct_io = false;
  uint64_t swap_size_bytes = 0; // the file's ceiling
  swap::SwapStats swap;
  reclaim::OomPolicy oom_policy = reclaim::OomPolicy::stall;
  unsigned swappiness = 0;
  bool stalled = false;         // faults are parked and reclaim cannot make room (policy stall)
};

struct ReleaseResult {
  uint64_t requested = 0;  // GFNs in the request
  uint64_t released = 0;   // frames taken back
  uint64_t frameless = 0;  // pages that had no frame (state set, nothing freed)
  uint64_t duplicates = 0; // repeated GFNs in the request
  uint64_t outside = 0;    // GFNs that are not RAM (ignored)
  uint64_t kept = 0;       // pages with a frame left alone (ReleaseOptions::only_frameless)
  uint64_t punched_ranges = 0;  // pool ranges returned to the host
};

struct ReleaseOptions {
  // The guest has promised not to touch these pages until it gives them back through a
  // later transition to Empty (virtio-balloon MUST_TELL_HOST). Their window PTEs may then
  // stay until the scrubber punches the frames, which removes them; the later transition
  // removes any that are still there before it returns. Only with a scrubber thread.
  bool guest_keeps_off = false;
  // Only pages without a frame change state; a page that has one (the guest touched it
  // again) is left alone and counted in ReleaseResult::kept. A balloon deflate: Ballooned
  // pages become Empty, but a ballooned page the guest already took back keeps its frame.
  bool only_frameless = false;
};

class GuestMm {
 public:
  GuestMm(MemoryManager& mm, uint16_t id, std::string name, P2m p2m, std::unique_ptr<host::WindowBacking> window,
          memcg::MemcgId memcg_id, aging::PageLru lru, reclaim::GuestLimitsOptions limits);
  GuestMm(const GuestMm&) = delete;
  GuestMm& operator=(const GuestMm&) = delete;
  ~GuestMm();

  [[nodiscard]] uint16_t id() const { return id_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const P2m& p2m() const { return p2m_; }
  [[nodiscard]] host::WindowBacking& window() { return *window_; }
  // One region per RAM range, over the window: for KVM memslots and GuestMemory.
  [[nodiscard]] std::vector<MemoryRegion> regions() const;
  [[nodiscard]] GuestMemory memory() const { return GuestMemory(regions()); }
  [[nodiscard]] uint64_t size_bytes() const { return p2m_.nr_pages() << kPageShift; }

  // Serves one fault. Thread: the fault server (or a test). Errors: pool exhausted, host
  // failures; the tables stay consistent and the faulting thread stays blocked.
  [[nodiscard]] Status handle_fault(const host::WindowFault& fault);

  // Takes the frames of `gfns` back; their P2M entries become `to` (a frameless state).
  // Duplicates and non-RAM GFNs are counted and skipped. Thread: any (not a thread that
  // holds an extent lock). Errors: a host failure while scrubbing (the frames are then
  // kept on the hot list, zeroed before reuse, and the P2M is still updated).
  [[nodiscard]] Result<ReleaseResult> release(std::span<const Gfn> gfns, PageState to, ReleaseOptions options = {});
  [[nodiscard]] Result<ReleaseResult> release_range(Gfn first, uint64_t count, PageState to,
                                                    ReleaseOptions options = {});

  // The guest is going away: its window stops viewing the pool and every thread blocked on
  // one of its faults is released (see WindowBacking::retire). Call once vCPUs and devices
  // are stopped and before the VM is destroyed. Later releases skip the window.
  [[nodiscard]] Status retire_window();
  [[nodiscard]] bool retired() const { return retired_.load(std::memory_order_acquire); }

  [[nodiscard]] GuestMmStats stats() const;

  // ---- Memory control (memcg leaf, reclaim, swap, aging) ----
  [[nodiscard]] memcg::MemcgId memcg_id() const { return memcg_id_; }
  void set_hooks(reclaim::GuestHooks hooks);
  [[nodiscard]] reclaim::GuestHooks hooks() const;
  void set_oom_policy(reclaim::OomPolicy p) { oom_policy_.store(p, std::memory_order_relaxed); }
  [[nodiscard]] reclaim::OomPolicy oom_policy() const { return oom_policy_.load(std::memory_order_relaxed); }
  void set_swappiness(unsigned s) { swappiness_.store(std::min(s, aging::kMaxSwappiness), std::memory_order_relaxed); }
  [[nodiscard]] unsigned swappiness() const { return swappiness_.load(std::memory_order_relaxed); }
  [[nodiscard]] GuestReclaimInfo reclaim_info() const;

  // Reclaim thread: writes up to `pages` cold pages (inactive tail first, by the aging
  // lists) to the swap file and frees their frames; returns the pages freed (uncharged).
  // Stops early at swap.max, a full swap file, or when no victim is left.
  [[nodiscard]] uint64_t swap_out_cold(uint64_t pages);
  // Reclaim thread: one aging round (drops the window PTEs of a sample of resident pages,
  // moves the hand, ages the active list if the inactive one is short).
  void sample_round(uint64_t max_samples);
  // Write evidence from KVM's dirty log: `bitmap` covers `nr_bits` pages from page index
  // `first_index` (KVM's format). Returns the references passed to the aging lists.
  uint64_t mark_dirty(uint64_t first_index, std::span<const uint64_t> bitmap, uint64_t nr_bits);
  // Reclaim thread: serves the parked faults again (each charges anew, or parks again) and
  // wakes the throttled ones. Returns how many parked faults remain.
  uint64_t retry_parked();
  [[nodiscard]] uint64_t parked() const;
  // The node whose max the last parked fault ran into (or the root for a pool shortage).
  [[nodiscard]] memcg::MemcgId parked_on() const;
  [[nodiscard]] bool pool_starved() const;
  // Pages that have no frame and are the guest's to use (Empty or Reported): what its
  // balloon would take first.
  [[nodiscard]] uint64_t frameless_free_pages() const;
  // Marks the guest as picked by the OOM policy (its faults stay parked until it is gone).
  void set_dying() { dying_.store(true, std::memory_order_release); }
  [[nodiscard]] bool dying() const { return dying_.load(std::memory_order_acquire); }
  // Writes the guest's counters into its memcg leaf's stat gauges (resident, ballooned,
  // reported, swapped) and counters. Any thread.
  void sync_memcg_stat();

  // Audit of this guest's tables against the frame table and the host's mappings.
  // Requires lock_all() held and the pool locked. `seen` marks every MFN a Present entry
  // names (a second mark is a double mapping).
  [[nodiscard]] Status check_invariants_locked(std::vector<uint8_t>& seen, uint64_t* present) const;
  [[nodiscard]] std::vector<std::unique_lock<std::mutex>> lock_all() const;
  [[nodiscard]] FrameCache& cache() { return cache_; }

 private:
  struct Counters {
    std::atomic<uint64_t> resident{0}, faults{0}, fault_around{0}, refills{0}, released{0}, release_calls{0},
        remaps{0}, hot_reuses{0}, swapped{0}, swap_in{0}, swap_out{0}, ballooned{0}, ballooned_pages{0}, throttled{0}, sampled_faults{0};
  };
  struct Parked {
    mutable std::mutex mutex;
    std::vector<uint64_t> faults;     // window offsets of faults waiting for a charge or a frame
    std::vector<host::ByteRange> throttled;  // served faults held over high (window ranges)
    memcg::MemcgId on;
    bool pool = false;
  };
  void park(uint64_t offset, memcg::MemcgId on, bool pool);
  // Wakes a served fault, or holds it (throttled) when the charge left a node over high.
  [[nodiscard]] Status wake_or_throttle(uint64_t off, uint64_t len, bool over_high);
  void uncharge(uint64_t pages);
  [[nodiscard]] Status swap_in(uint64_t index, P2mEntry e);
  // Brings a whole frameless extent (Swapped and Empty pages) into one 2 MiB block,
  // charged already. not_enough_memory if no block is free.
  [[nodiscard]] Status swap_in_extent(uint64_t extent, bool over_high);
  // The pages of `slots` are Present again: their slots and swap charge go back.
  void swapped_in(std::span<const swap::Slot> slots);
  // Swaps out the Present pages among `indices` (one extent, ascending); returns the
  // pages freed. Takes the extent lock. `swap_refused`: swap.max or the file said no.
  [[nodiscard]] uint64_t swap_out_extent(std::span<const uint64_t> indices, bool* swap_refused);
  [[nodiscard]] swap::SwapStore* swap_store();
  // Takes a free frame for page `index` (the one the window views there if it can).
  struct FrameChoice {
    Mfn mfn;
    bool hot = false;
    bool remap = true;
  };
  [[nodiscard]] std::optional<FrameChoice> take_frame(uint64_t index);
  void return_frame(const FrameChoice& c);
  void lru_add(uint64_t first, uint64_t count);
  void lru_remove(std::span<const uint64_t> indices);
  // Frees frames taken off pages (already reset in the frame table and the P2M), under
  // the extent locks; `ptes_dropped`: the window's PTEs on them are gone already.
  [[nodiscard]] Status free_frames_locked(std::span<const uint64_t> pages, std::span<const Mfn> frames, bool keeps_off,
                                          ReleaseResult& r, bool ptes_dropped);
  [[nodiscard]] Status fault_extent(uint64_t extent, bool over_high);
  [[nodiscard]] Status fault_page(uint64_t index, bool over_high);
  [[nodiscard]] Status map_present(uint64_t index, Mfn mfn);
  void own(uint64_t index, Mfn mfn);
  [[nodiscard]] std::optional<Mfn> extent_block_hint(uint64_t extent) const;
  // After a failed fault that tried a remap: hints of [first, first+count) name what the
  // window views now (first_frame + i), or nothing. Requires the extent lock.
  void remember_window(uint64_t first, uint64_t count, std::optional<Mfn> first_frame);
  // Drops the window's PTEs over [first, first+count) (best effort, logged).
  void drop_ptes(uint64_t first, uint64_t count);
  [[nodiscard]] Result<ReleaseResult> release_indices(std::vector<uint64_t> indices, PageState to, ReleaseResult r,
                                                      ReleaseOptions options = {});

  MemoryManager& mm_;
  uint16_t id_;
  std::string name_;
  P2m p2m_;
  std::unique_ptr<host::WindowBacking> window_;
  FrameCache cache_;
  Counters counters_;
  std::atomic<bool> retired_{false};
  memcg::MemcgId memcg_id_;
  reclaim::GuestLimitsOptions limits_;
  std::atomic<reclaim::OomPolicy> oom_policy_;
  std::atomic<unsigned> swappiness_;
  std::atomic<bool> dying_{false};
  mutable std::mutex hooks_mutex_;
  reclaim::GuestHooks hooks_;
  // Aging: the LRU lists and the sampler. Lock order: extent lock -> aging_mutex_.
  mutable std::mutex aging_mutex_;
  aging::PageLru lru_;
  aging::PageSampler sampler_;
  // The swap file, created on the first swap-out.
  mutable std::mutex swap_mutex_;
  std::unique_ptr<swap::SwapStore> swap_;
  bool swap_failed_ = false;
  Parked parked_;
};

}  // namespace tide::gmm
