#include "guestmm/reclaim/reclaim_engine.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

#include "guestmm/base/log.hpp"
#include "guestmm/memory_manager.hpp"

namespace tide::gmm::reclaim {
uint64_t ReclaimEngine::watermark(uint64_t max_pages) { return std::clamp<uint64_t>(max_pages / 32, 256, 8192); }

ReclaimEngine::ReclaimEngine(MemoryManager& mm, ReclaimEngineOptions options) : mm_(mm), options_(options) {}

ReclaimEngine::~ReclaimEngine() { stop(); }

void ReclaimEngine::start() {
  if (!options_.thread || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void ReclaimEngine::stop() {
  {
    std::lock_guard l(state_mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReclaimEngine::notify() {
  {
    std::lock_guard l(state_mutex_);
    wake_ = true;
  }
  cv_.notify_all();
}

void ReclaimEngine::run() {
  pthread_setname_np(pthread_self(), "tide-reclaim");
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  for (;;) {
    {
      std::unique_lock l(state_mutex_);
      cv_.wait_for(l, options_.tick, [&] { return wake_ || stop_; });
      if (stop_) return;
      wake_ = false;
    }
    run_once();
  }
}

void ReclaimEngine::run_once() {
  auto work = lock();
  {
    std::lock_guard l(state_mutex_);
    ++stats_.rounds;
  }
  pool_pressure();
  const auto now = std::chrono::steady_clock::now();
  const bool sample = now - last_sample_ >= std::chrono::milliseconds(100);
  if (sample) last_sample_ = now;
  for (GuestMm* g : mm_.guests()) settle(*g, sample);
}

void ReclaimEngine::settle(GuestMm& g, bool sample) {
  if (g.retired()) return;
  memcg::MemcgTree& tree = mm_.memcg();
  auto snap = tree.snapshot(g.memcg_id());
  auto room = tree.headroom(g.memcg_id());
  if (!snap || !room) return;
  const uint64_t parked = g.parked();
  uint64_t freed = 0;
  bool tried = false;
  if (parked > 0 && !g.pool_starved() && !g.dying()) {
    // Faults wait at a max: make room for them and a little more under the node that said no.
    const memcg::MemcgId node = g.parked_on();
    auto node_snap = tree.snapshot(node);
    const uint64_t wm = watermark(node_snap ? node_snap->settings.max : snap->settings.max);
    tried = true;
    freed += node == g.memcg_id() ? reclaim_guest(g, parked + wm) : reclaim_under(node, parked + wm);
  } else if (*room < watermark(snap->settings.max) && snap->settings.max != memcg::kUnlimited) {
    // Near the max: reclaim in the background while the guest still runs.
    // Background reclaim does not swap while a balloon request is still being answered
    // (the guest runs, so it can answer; its faults do not wait yet).
    const uint64_t wm = watermark(snap->settings.max);
    freed += reclaim_guest(g, 2 * wm - *room, /*may_swap=*/!balloon_busy(g));
  }
  if (snap->current > snap->settings.high) freed += reclaim_guest(g, snap->current - snap->settings.high);
  if (parked > 0) {
    std::lock_guard l(state_mutex_);
    if (waiting_.insert(&g).second) {
      log::info("%s: %llu fault(s) wait at %s's %s; reclaiming", g.name().c_str(), static_cast<unsigned long long>(parked),
                node_path(g.parked_on()).c_str(), g.pool_starved() ? "pool" : "max");
    }
  }
  const uint64_t still = g.retry_parked();
  if (still == 0) {
    std::lock_guard l(state_mutex_);
    if (waiting_.erase(&g) != 0) log::info("%s: its faults are served again", g.name().c_str());
  }
  if (still > 0 && tried && freed == 0 && !g.pool_starved()) {
    out_of_memory(g, g.parked_on());
  } else if (still == 0) {
    std::lock_guard l(state_mutex_);
    if (stalled_.erase(&g) != 0) log::info("%s: memory available again, its vCPUs go on", g.name().c_str());
  }
  if (sample && snap->settings.max != memcg::kUnlimited && snap->current * 4 >= snap->settings.max * 3) {
    g.sample_round(options_.sample_pages);
  }
  g.sync_memcg_stat();
}

bool ReclaimEngine::balloon_busy(const GuestMm& g) const {
  std::lock_guard l(state_mutex_);
  auto it = last_balloon_ask_.find(&g);
  return it != last_balloon_ask_.end() && std::chrono::steady_clock::now() - it->second < options_.balloon_settle;
}

uint64_t ReclaimEngine::reclaim_guest(GuestMm& g, uint64_t pages, bool may_swap) {
  if (pages == 0 || g.retired()) return 0;
  uint64_t freed = 0;
  // 1. Reported pages: released (and uncharged) when the guest reports them.
  // 2. The balloon, if the guest has one and says it can give.
  const GuestHooks hooks = g.hooks();
  if (hooks.balloon_reclaim && !g.dying()) {
    const GuestMmStats before = g.stats();
    // The guest's balloon takes its frameless free pages too (they cost the host nothing),
    // so ask for those on top of what is needed.
    const uint64_t asked = hooks.balloon_reclaim(pages + g.frameless_free_pages());
    uint64_t got = 0;
    if (asked > 0) {
      // Wait while the balloon grows (frameless pages first, as the guest hands them out),
      // until enough frames came back, the balloon stops growing, or the time is up.
      const auto start = std::chrono::steady_clock::now();
      auto last_progress = start;
      uint64_t grown = 0;
      while (got < pages) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const GuestMmStats now_stats = g.stats();
        const auto now = std::chrono::steady_clock::now();
        if (now_stats.ballooned_pages - before.ballooned_pages > grown) {
          grown = now_stats.ballooned_pages - before.ballooned_pages;
          last_progress = now;
        }
        got = now_stats.ballooned_frames - before.ballooned_frames;
        if (now - start >= options_.balloon_wait || now - last_progress >= options_.balloon_idle) break;
      }
      (void)mm_.memcg().stat_add(g.memcg_id(), memcg::Stat::reclaimed_balloon, got);
      std::lock_guard l(state_mutex_);
      last_balloon_ask_[&g] = std::chrono::steady_clock::now();
      stats_.balloon_asked += asked;
      stats_.balloon_pages += got;
      freed += got;
    }
  }
  // 3. Swap: cold pages first.
  if (freed < pages && may_swap) {
    const uint64_t out = g.swap_out_cold(pages - freed);
    freed += out;
    std::lock_guard l(state_mutex_);
    stats_.swapped_out += out;
  }
  return freed;
}

uint64_t ReclaimEngine::reclaim_under(memcg::MemcgId node, uint64_t pages) {
  auto plan = mm_.memcg().plan_reclaim(pages, node);
  if (!plan) return 0;
  uint64_t freed = 0;
  const std::vector<GuestMm*> guests = mm_.guests();
  for (const memcg::ReclaimShare& share : plan->shares) {
    for (GuestMm* g : guests) {
      if (g->memcg_id() == share.leaf) freed += reclaim_guest(*g, share.pages);
    }
  }
  return freed;
}

uint64_t ReclaimEngine::reclaim(memcg::MemcgId node, uint64_t pages) {
  auto work = lock();
  const uint64_t freed = reclaim_under(node, pages);
  return freed;
}

void ReclaimEngine::pool_pressure() {
  const PoolStats s = mm_.stats();
  const uint64_t free = s.free_frames + s.cached_frames + s.hot_frames + s.scrubbing_frames;
  uint64_t starving = 0;
  std::vector<GuestMm*> starved;
  for (GuestMm* g : mm_.guests()) {
    if (g->pool_starved()) {
      starving += g->parked();
      starved.push_back(g);
    }
  }
  const uint64_t low = options_.pool_low_frames;
  if (free >= low && starving == 0) return;
  {
    std::lock_guard l(state_mutex_);
    ++stats_.pool_rounds;
  }
  const uint64_t goal = (free < 2 * low ? 2 * low - free : 0) + starving;
  const uint64_t freed = reclaim_under(memcg::kRootId, goal);
  // Reclaimed frames may sit with the scrubber: hand them to the pool before retrying.
  if (freed > 0) (void)mm_.scrubber().flush();
  for (GuestMm* g : starved) {
    if (g->retry_parked() > 0 && freed == 0) out_of_memory(*g, memcg::kRootId);
  }
}

std::string ReclaimEngine::node_path(memcg::MemcgId node) const {
  auto p = mm_.memcg().path(node);
  return p ? *p : std::string("?");
}

void ReclaimEngine::out_of_memory(GuestMm& g, memcg::MemcgId node) {
  if (g.oom_policy() == OomPolicy::stall) {
    std::lock_guard l(state_mutex_);
    if (stalled_.insert(&g).second) {
      ++stats_.oom_stalls;
      (void)mm_.memcg().record_event(node, memcg::Event::oom);
      log::warn("%s: out of memory under %s and nothing left to reclaim: its faulting vCPUs wait (policy stall) until "
                "memory is freed or the limit is raised",
                g.name().c_str(), node_path(node).c_str());
    }
    return;
  }
  auto choice = mm_.oom_victims().select(node);
  if (!choice || !choice->victim.valid()) return;  // everyone under the node is dying already
  GuestMm* victim = nullptr;
  for (GuestMm* x : mm_.guests()) {
    if (x->memcg_id() == choice->victim) victim = x;
  }
  if (victim == nullptr) return;
  victim->set_dying();
  {
    std::lock_guard l(state_mutex_);
    ++stats_.oom_stops;
  }
  const std::string reason =
      log::strf("out of memory under %s (policy stop): %s is stopped, %llu MiB freed", node_path(node).c_str(),
                victim->name().c_str(), static_cast<unsigned long long>((choice->victim_pages * kPageSize) >> 20));
  // The VMM reports the stop as the guest's end (an error there); here it is the step.
  log::warn("%s", reason.c_str());
  const GuestHooks hooks = victim->hooks();
  if (hooks.oom_stop) hooks.oom_stop(reason);
  else log::error("%s: no way to stop it here; its faults stay parked", victim->name().c_str());
}

bool ReclaimEngine::stalled(const GuestMm& g) const {
  std::lock_guard l(state_mutex_);
  return stalled_.count(&g) != 0;
}

void ReclaimEngine::forget(GuestMm& g) {
  std::lock_guard l(state_mutex_);
  stalled_.erase(&g);
  waiting_.erase(&g);
  last_balloon_ask_.erase(&g);
}

ReclaimEngineStats ReclaimEngine::stats() const {
  std::lock_guard l(state_mutex_);
  return stats_;
}

}  // namespace tide::gmm::reclaim
