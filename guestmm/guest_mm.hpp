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

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "guestmm/frame_cache.hpp"
#include "guestmm/guest_memory.hpp"
#include "guestmm/host/host_memory.hpp"
#include "guestmm/p2m.hpp"

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
  GuestMm(MemoryManager& mm, uint16_t id, std::string name, P2m p2m, std::unique_ptr<host::WindowBacking> window);
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

  // Audit of this guest's tables against the frame table and the host's mappings.
  // Requires lock_all() held and the pool locked. `seen` marks every MFN a Present entry
  // names (a second mark is a double mapping).
  [[nodiscard]] Status check_invariants_locked(std::vector<uint8_t>& seen, uint64_t* present) const;
  [[nodiscard]] std::vector<std::unique_lock<std::mutex>> lock_all() const;
  [[nodiscard]] FrameCache& cache() { return cache_; }

 private:
  struct Counters {
    std::atomic<uint64_t> resident{0}, faults{0}, fault_around{0}, refills{0}, released{0}, release_calls{0},
        remaps{0}, hot_reuses{0};
  };
  [[nodiscard]] Status fault_extent(uint64_t extent);
  [[nodiscard]] Status fault_page(uint64_t index);
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
};

}  // namespace tide::gmm
