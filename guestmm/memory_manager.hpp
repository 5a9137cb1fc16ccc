// MemoryManager: tide's machine memory (ARCHITECTURE.md §3) — the pool (memfd + pool map),
// the frame table, the pool allocator, the guests' GuestMm objects and the fault server.
// Guests are added and removed from any thread; the audit takes every lock (each guest's
// extents in ascending order, then its cache, then the pool) and checks the whole state.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guestmm/fault_server.hpp"
#include "guestmm/frame_table.hpp"
#include "guestmm/guest_mm.hpp"
#include "guestmm/host/host_memory.hpp"
#include "guestmm/host/swap_file.hpp"
#include "guestmm/memcg/memcg_oom.hpp"
#include "guestmm/memcg/memcg_tree.hpp"
#include "guestmm/pool_allocator.hpp"
#include "guestmm/reclaim/guest_limits.hpp"
#include "guestmm/reclaim/reclaim_engine.hpp"
#include "guestmm/scrubber.hpp"

namespace tide::gmm {

struct MemoryManagerOptions {
  uint64_t pool_bytes = 0;   // rounded up to 2 MiB
  uint64_t hot_frames = 0;   // freed frames kept resident for fast reuse
  bool fault_server = true;  // false: tests drive faults by hand
  // Scrub released frames on a scrubber thread, off the releasing thread's path (see
  // scrubber.hpp); false: release() punches before it returns.
  bool async_scrub = false;
  FaultServer::ErrorFn on_fault_error;
  // Swap files for the guests (null: real files, host::LinuxSwapFiles).
  host::SwapFiles* swap_files = nullptr;
  reclaim::ReclaimEngineOptions reclaim;
};

struct PoolStats {
  uint64_t total_frames = 0;
  uint64_t free_frames = 0;    // in the buddy allocator (clean)
  uint64_t cached_frames = 0;  // in guests' caches (clean)
  uint64_t hot_frames = 0;     // free but resident
  uint64_t scrubbing_frames = 0;  // released, waiting to be punched
  uint64_t scrubbed_frames = 0;   // punched by the scrubber so far
  uint64_t used_frames = 0;    // mapped by guests
  uint64_t resident_bytes = 0; // host memory the pool holds (the kernel's count)
  uint64_t punch_calls = 0;    // system calls that returned pool memory to the host
  uint64_t guests = 0;
};

class MemoryManager {
 public:
  [[nodiscard]] static Result<std::unique_ptr<MemoryManager>> create(host::HostMemory& host,
                                                                     MemoryManagerOptions options);
  MemoryManager(const MemoryManager&) = delete;
  MemoryManager& operator=(const MemoryManager&) = delete;
  ~MemoryManager();

  // A new guest with the given RAM ranges (GPA), served by the fault server, with its
  // memcg leaf (named `name`) under `limits.parent`. Errors: the P2M's and window's, and
  // MemcgTree::create_guest's (an invalid name, a sibling of the same name).
  [[nodiscard]] Result<GuestMm*> add_guest(const std::string& name, const std::vector<RamRange>& ranges,
                                           reclaim::GuestLimitsOptions limits = {});
  // Frees every frame of the guest and forgets it. Nothing may touch its window any more.
  void remove_guest(GuestMm* guest);

  [[nodiscard]] PoolAllocator& pool() { return *pool_; }
  [[nodiscard]] FrameTable& frames() { return frames_; }
  [[nodiscard]] host::PoolBacking& backing() { return *backing_; }
  [[nodiscard]] uint64_t pool_bytes() const { return backing_->size_bytes(); }
  [[nodiscard]] Scrubber& scrubber() { return *scrubber_; }
  // The scrubber if it runs on its own thread (release defers punching to it), else null.
  [[nodiscard]] Scrubber* async_scrubber() { return async_scrub_ ? scrubber_.get() : nullptr; }
  [[nodiscard]] PoolStats stats() const;
  // The memory cgroups (root = the host, limited to the pool) and their reclaimer.
  [[nodiscard]] memcg::MemcgTree& memcg() { return memcg_; }
  [[nodiscard]] const memcg::MemcgTree& memcg() const { return memcg_; }
  [[nodiscard]] memcg::OomVictims& oom_victims() { return oom_; }
  [[nodiscard]] reclaim::ReclaimEngine& reclaim_engine() { return *engine_; }
  // Writes one limit of a node; lowering max below usage reclaims down to it (balloon,
  // swap) or fails after bounded retries with the old limit kept (MemcgTree::set_max).
  [[nodiscard]] Status set_memcg_limit(memcg::MemcgId id, memcg::Limit limit, uint64_t pages);
  [[nodiscard]] host::SwapFiles& swap_files() { return *swap_files_; }
  // The guests now (the reclaim engine's view; they stay alive while it holds its lock).
  [[nodiscard]] std::vector<GuestMm*> guests() const;
  [[nodiscard]] GuestMm* find_guest(const std::string& name) const;

  // The whole audit (ARCHITECTURE.md "Invariants, audited"): the buddy allocator and hot
  // list; for every guest, each Present GFN's frame is allocated, owned by that guest at
  // that GFN (rmap), mapped once, and viewed by the window at exactly that frame (checked
  // in the kernel's own mapping list); no frame is mapped twice; every frame is accounted
  // for exactly once (free, cached, hot, or mapped); the guests' counters match.
  [[nodiscard]] Status check_invariants() const;

 private:
  MemoryManager();

  host::HostMemory* host_ = nullptr;
  std::unique_ptr<host::PoolBacking> backing_;
  FrameTable frames_;
  std::unique_ptr<PoolAllocator> pool_;
  std::unique_ptr<Scrubber> scrubber_;
  bool async_scrub_ = false;
  mutable std::mutex guests_mutex_;
  std::vector<std::unique_ptr<GuestMm>> guests_;
  std::unique_ptr<FaultServer> faults_;
  host::LinuxSwapFiles linux_swap_files_;
  host::SwapFiles* swap_files_ = &linux_swap_files_;
  memcg::MemcgTree memcg_;
  memcg::OomVictims oom_{memcg_};
  std::unique_ptr<reclaim::ReclaimEngine> engine_;
  memcg::LimitListeners::Handle raise_listener_ = 0;
};

}  // namespace tide::gmm
