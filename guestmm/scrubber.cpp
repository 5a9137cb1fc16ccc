#include "guestmm/scrubber.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

#include "guestmm/base/log.hpp"

namespace tide::gmm {

Scrubber::Scrubber(host::PoolBacking& backing, PoolAllocator& pool, FrameTable& frames, bool thread)
    : backing_(backing), pool_(pool), frames_(frames) {
  if (thread) thread_ = std::thread([this] { run(); });
}

Scrubber::~Scrubber() {
  {
    std::lock_guard l(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)flush();
}

void Scrubber::enqueue(std::span<const Mfn> frames) {
  if (frames.empty()) return;
  {
    std::lock_guard l(mutex_);
    for (Mfn m : frames) {
      frames_[m].flags = static_cast<uint16_t>(kFrameAllocated | kFrameScrub);
      queue_.push_back(static_cast<uint32_t>(m.value()));
    }
    queued_seq_ += frames.size();
    pending_.fetch_add(frames.size(), std::memory_order_release);
  }
  work_cv_.notify_one();
}

Status Scrubber::scrub_queue(std::unique_lock<std::mutex>& lock) {
  busy_ = true;
  in_flight_.swap(queue_);
  std::vector<uint32_t> batch = in_flight_;
  lock.unlock();

  std::sort(batch.begin(), batch.end());
  std::vector<host::ByteRange> ranges;
  for (uint32_t m : batch) ranges.push_back(host::ByteRange{uint64_t{m} << kPageShift, kPageSize});
  ranges = host::coalesce(std::move(ranges));
  std::vector<Mfn> frames;
  frames.reserve(batch.size());
  for (uint32_t m : batch) frames.push_back(Mfn(m));
  Status st = backing_.punch(ranges);
  batches_.fetch_add(1, std::memory_order_relaxed);

  // Hand them over under the lock, so an audit never finds them in two places.
  lock.lock();
  if (st) {
    pool_.free_clean(frames);
    scrubbed_.fetch_add(frames.size(), std::memory_order_relaxed);
  } else {
    // Not punched: they stay resident on the hot list and are zeroed before reuse.
    pool_.offer_hot(frames, /*force=*/true);
    log::error("scrubber: %s (%zu frames kept resident)", st.error().message().c_str(), frames.size());
  }
  in_flight_.clear();
  done_seq_ += batch.size();
  pending_.fetch_sub(batch.size(), std::memory_order_release);
  busy_ = false;
  if (!st) last_error_ = st;
  done_cv_.notify_all();
  return st;
}

Status Scrubber::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_seq_;
  Status result = ok();
  while (done_seq_ < target) {
    if (!busy_ && !queue_.empty()) {
      // Scrub it here rather than wait for the thread (or when there is none).
      if (auto st = scrub_queue(lock); !st) result = st;
    } else {
      done_cv_.wait(lock);
    }
  }
  return result;
}

void Scrubber::pause(bool paused) {
  {
    std::lock_guard l(mutex_);
    paused_ = paused;
  }
  work_cv_.notify_all();
}

void Scrubber::run() {
  pthread_setname_np(pthread_self(), "tide-scrub");
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::unique_lock lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [this] { return stop_ || (!queue_.empty() && !busy_ && !paused_); });
    if (stop_) return;
    (void)scrub_queue(lock);
  }
}

}  // namespace tide::gmm
