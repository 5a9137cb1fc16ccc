// Scrubber: frames taken back from guests wait here until their host memory is returned
// (punched, which also guarantees zeroes) and only then go back to the allocator — the way
// Xen scrubs freed domain memory off the critical path. Releasing a page costs its caller
// only the table updates and the PTE zap; the scrubber punches whatever has queued up in
// large coalesced batches (process_madvise: up to 1024 ranges per system call).
// A queued frame is allocated, owned by no guest, unmapped everywhere, flagged kFrameScrub:
// nobody can be given it until it is clean. Under pool pressure a faulting thread can wait
// for the queue (flush) instead of failing.
// With `thread` false the queue is scrubbed by whoever calls scrub_now()/flush() (tests,
// and tide runs that want synchronous scrubbing).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "guestmm/frame_table.hpp"
#include "guestmm/host/host_memory.hpp"
#include "guestmm/pool_allocator.hpp"

namespace tide::gmm {

class Scrubber {
 public:
  Scrubber(host::PoolBacking& backing, PoolAllocator& pool, FrameTable& frames, bool thread);
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;
  // Scrubs what is left, then stops the thread.
  ~Scrubber();

  // Queues frames that no guest maps any more. Thread: any.
  void enqueue(std::span<const Mfn> frames);
  // Returns once every frame queued before the call is clean and free. Thread: any but the
  // scrubber's own. Errors: a punch failure (those frames went to the hot list instead).
  [[nodiscard]] Status flush();

  // Tests: while paused the thread leaves the queue alone (flush() still scrubs it).
  void pause(bool paused);

  [[nodiscard]] uint64_t pending() const { return pending_.load(std::memory_order_acquire); }
  [[nodiscard]] uint64_t scrubbed_frames() const { return scrubbed_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }

  // For audits: hold lock() (frames move from the scrubber to the pool under it, so the
  // two are seen consistently; lock order: scrubber -> pool) and walk the pending frames.
  [[nodiscard]] std::unique_lock<std::mutex> lock() const { return std::unique_lock(mutex_); }
  template <class Fn>
  void for_each_pending_locked(Fn&& fn) const {
    for (uint32_t m : queue_) fn(Mfn(m));
    for (uint32_t m : in_flight_) fn(Mfn(m));
  }

 private:
  void run();
  // Takes the queue and scrubs it on the calling thread.
  Status scrub_queue(std::unique_lock<std::mutex>& lock);

  host::PoolBacking& backing_;
  PoolAllocator& pool_;
  FrameTable& frames_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<uint32_t> queue_;
  std::vector<uint32_t> in_flight_;
  uint64_t queued_seq_ = 0;  // frames ever queued
  uint64_t done_seq_ = 0;    // frames ever finished (clean or sent hot)
  bool stop_ = false;
  bool paused_ = false;
  bool busy_ = false;        // a batch is being scrubbed (by the thread or a flusher)
  Status last_error_ = ok();
  std::atomic<uint64_t> pending_{0}, scrubbed_{0}, batches_{0};
  std::thread thread_;
};

}  // namespace tide::gmm
