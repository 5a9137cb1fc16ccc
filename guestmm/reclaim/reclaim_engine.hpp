// ReclaimEngine: the memory manager's reclaimer (ARCHITECTURE.md §3 "Memory cgroups").
// One thread ("tide-reclaim") keeps every guest inside its memcg limits and the pool from
// running dry, and the same chain serves MemcgTree::set_max synchronously.
//
// The chain, cheapest first, for `n` pages of one guest:
//   1. pages the guest reported free: tide releases them (uncharged) when they are
//      reported, so by the time reclaim runs they cost nothing; nothing to do here;
//   2. the balloon: the VMM's hook asks the guest to inflate (asynchronously, as far as its
//      statistics say it can give); the engine waits a bounded time for the frames;
//   3. swap: cold pages, by the aging lists, go to the guest's swap file;
//   4. the OOM policy, for a guest whose faults are parked and for which a whole round
//      freed nothing: `stall` (they wait, an oom event is counted once per episode) or
//      `stop` (a victim under the limiting node, never one already dying, is stopped).
// When it runs, per guest: faults parked at a max (reclaim under the limiting node, then
// serve them again); usage within a watermark of the max (background reclaim, so the
// balloon can work while the guest still runs: its vCPU is not parked); usage over high
// (reclaim to high, then wake the throttled faulters); and, for guests near their max, an
// aging round (a sample of PTEs dropped). Pool pressure (free frames under a watermark,
// or faults parked for want of a frame) shares a goal among all guests by their
// protection (memory.low/min) with MemcgTree::plan_reclaim.
// Threads: the engine thread, and set_max's caller through reclaim(). One mutex
// (`work_mutex_`) serializes all reclaim; MemoryManager::remove_guest takes it before a
// guest goes away, so a guest the engine works on stays alive.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "guestmm/memcg/memcg_reclaimer.hpp"
#include "guestmm/memcg/memcg_types.hpp"

namespace tide::gmm {
class GuestMm;
class MemoryManager;
}  // namespace tide::gmm

namespace tide::gmm::reclaim {

struct ReclaimEngineOptions {
  bool thread = true;  // false: tests call run_once()
  std::chrono::milliseconds tick{50};
  // How long one balloon request may take before the chain moves on to swap.
  std::chrono::milliseconds balloon_wait{500};
  // ... and how long without any frame coming back before it gives up on it.
  std::chrono::milliseconds balloon_idle{40};
  // After a balloon request, background reclaim leaves swap alone this long (the guest
  // is still inflating; its statistics catch up at the next stats period).
  std::chrono::milliseconds balloon_settle{2000};
  uint64_t sample_pages = 256;  // pages whose PTEs an aging round drops, per guest
  // Proactive pool reclaim: below this many free frames the pool counts as under pressure
  // and reclaim takes it back to twice as many. 0: only on demand (faults waiting for a
  // frame, or parked at the root's max, which is the pool's size).
  uint64_t pool_low_frames = 0;
};

struct ReclaimEngineStats {
  uint64_t rounds = 0;
  uint64_t balloon_asked = 0;   // pages asked of balloons
  uint64_t balloon_pages = 0;   // frames balloons gave back while the engine waited
  uint64_t swapped_out = 0;     // pages the engine swapped out
  uint64_t pool_rounds = 0;     // rounds driven by pool pressure
  uint64_t oom_stalls = 0;      // stall episodes begun
  uint64_t oom_stops = 0;       // guests the stop policy picked
};

class ReclaimEngine final : public memcg::Reclaimer {
 public:
  ReclaimEngine(MemoryManager& mm, ReclaimEngineOptions options);
  ReclaimEngine(const ReclaimEngine&) = delete;
  ReclaimEngine& operator=(const ReclaimEngine&) = delete;
  ~ReclaimEngine() override;

  // Background reclaim starts when a guest's room under its max falls below this, and
  // takes it back to twice this (kswapd's low and high watermarks, per guest): 1/32 of the
  // max, between 1 MiB and 32 MiB.
  [[nodiscard]] static uint64_t watermark(uint64_t max_pages);

  void start();
  void stop();
  // Something changed (a fault parked or throttled, a limit raised): run soon.
  void notify();
  // memcg::Reclaimer, for set_max: frees up to `pages` under `node` by the chain, shared
  // among its guests by protection. Any thread holding no guestmm lock.
  uint64_t reclaim(memcg::MemcgId node, uint64_t pages) override;
  // One round over every guest and the pool (the thread's body; tests call it directly).
  void run_once();
  // The chain for one guest; returns the pages freed.
  uint64_t reclaim_guest(GuestMm& g, uint64_t pages, bool may_swap = true);
  [[nodiscard]] bool stalled(const GuestMm& g) const;
  // Before a guest goes away (MemoryManager::remove_guest, holding lock()).
  void forget(GuestMm& g);
  [[nodiscard]] std::unique_lock<std::mutex> lock() { return std::unique_lock(work_mutex_); }
  [[nodiscard]] ReclaimEngineStats stats() const;


 private:
  void run();
  [[nodiscard]] bool balloon_busy(const GuestMm& g) const;
  void settle(GuestMm& g, bool sample);
  void pool_pressure();
  void out_of_memory(GuestMm& g, memcg::MemcgId node);
  uint64_t reclaim_under(memcg::MemcgId node, uint64_t pages);
  [[nodiscard]] std::string node_path(memcg::MemcgId node) const;

  MemoryManager& mm_;
  ReclaimEngineOptions options_;
  std::mutex work_mutex_;
  mutable std::mutex state_mutex_;  // stalled_, stats_, the wake flag
  std::condition_variable cv_;
  bool wake_ = false;
  bool stop_ = false;
  std::set<const GuestMm*> stalled_;
  std::set<const GuestMm*> waiting_;  // guests with parked faults (logged once per episode)
  std::map<const GuestMm*, std::chrono::steady_clock::time_point> last_balloon_ask_;
  ReclaimEngineStats stats_;
  std::chrono::steady_clock::time_point last_sample_{};
  std::thread thread_;
};

}  // namespace tide::gmm::reclaim
