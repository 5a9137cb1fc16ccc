// BalloonDevice: features, config space, lifecycle, control and status. The queue handlers
// are in page_requests.cpp, free_page_reports.cpp and stats_queue.cpp.
#include "balloon/balloon_device.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <limits>

#include "balloon/balloon_device_impl.hpp"
#include "balloon/balloon_spec.hpp"
#include "devices/le_bytes.hpp"
#include "devices/virtio/virtio_spec.hpp"
#include "guestmm/base/log.hpp"

namespace tide::balloon {
namespace {

// A queue size the transport accepts: a power of two in [1, 32768].
uint16_t sane_queue_size(uint16_t size) {
  if (size == 0) return 256;
  return std::bit_floor(std::min<uint16_t>(size, static_cast<uint16_t>(dev::kVirtqMaxSize)));
}

BalloonDeviceOptions sanitized(BalloonDeviceOptions o) {
  o.queue_size = sane_queue_size(o.queue_size);
  if (!o.clock) o.clock = monotonic_ns;
  return o;
}

}  // namespace

uint64_t BalloonFeatures::bits() const {
  uint64_t b = 0;
  if (must_tell_host) b |= uint64_t{1} << VIRTIO_BALLOON_F_MUST_TELL_HOST;
  if (stats) b |= uint64_t{1} << VIRTIO_BALLOON_F_STATS_VQ;
  if (deflate_on_oom) b |= uint64_t{1} << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
  if (reporting) b |= uint64_t{1} << VIRTIO_BALLOON_F_PAGE_REPORTING;
  return b;
}

BalloonDevice::Impl::Impl(BalloonBackend& backend_ref, CounterSet& counters_ref,
                          const BalloonDeviceOptions& options_ref)
    : backend(backend_ref),
      counters(counters_ref),
      options(options_ref),
      ram_pages(backend_ref.ram_pages()),
      balloon(ram_pages),
      seen(ram_pages) {}

dev::Queue* BalloonDevice::Impl::queue_for(QueueRole role) const {
  auto index = queue_index(role, negotiated_features);
  if (!index || *index >= activation.queues.size()) return nullptr;
  return activation.queues[*index];
}

bool BalloonDevice::Impl::mark_seen(uint64_t index) {
  if (!seen.set(index)) return false;
  seen_list.push_back(index);
  return true;
}

void BalloonDevice::Impl::forget_seen() {
  for (uint64_t index : seen_list) seen.clear(index);
  seen_list.clear();
}

void BalloonDevice::Impl::sync_accounting() {
  accounting.sync_target(balloon.count(), std::max<uint64_t>(highest_target, target_pages));
  highest_target = target_pages;
}

bool BalloonDevice::Impl::handle_queue(uint16_t index) {
  const QueueRole role = role_of(index);
  if (role != QueueRole::kInflate && role != QueueRole::kDeflate && role != QueueRole::kStats &&
      role != QueueRole::kReporting) {
    counters.fault(BalloonFault::kQueueUnused, 1,
                   log::strf("notification on queue %u, which the negotiated features 0x%llx do not define", index,
                             static_cast<unsigned long long>(negotiated_features)));
    return false;
  }
  dev::Queue* queue = index < activation.queues.size() ? activation.queues[index] : nullptr;
  if (queue == nullptr) return false;  // activate() checked every role has one
  const gmm::GuestMemory& memory = *activation.memory;
  bool changed = false;
  while (auto chain = queue->pop(memory)) {
    changed = true;
    switch (role) {
      case QueueRole::kInflate: inflate(*chain); break;
      case QueueRole::kDeflate: deflate(*chain); break;
      case QueueRole::kReporting: report(*chain); break;
      case QueueRole::kStats: receive_stats(*chain); continue;  // kept, not returned
      default: break;
    }
    queue->add_used(memory, chain->head, 0);
  }
  // pop() returns malformed chains itself: they need the notification too.
  if (queue->needs_notification(memory)) activation.interrupt->notify_queue(index);
  return changed;
}

void BalloonDevice::Impl::give_back_all() {
  const uint64_t pages = balloon.count();
  if (pages == 0) return;
  // GFNs from the backend where it can tell (and agrees with page_index), else by walking
  // the guest's RAM regions once.
  gfns.clear();
  std::vector<uint64_t> unknown;
  balloon.for_each_set([&](uint64_t index) {
    auto gfn = backend.gfn_at(index);
    if (gfn && backend.page_index(*gfn) == index) {
      gfns.push_back(*gfn);
    } else {
      unknown.push_back(index);
    }
  });
  if (!unknown.empty() && activation.memory != nullptr) {
    for (uint64_t index : unknown) (void)mark_seen(index);  // "wanted" marks
    uint64_t wanted = unknown.size();
    for (const gmm::MemoryRegion& region : activation.memory->regions()) {
      const gmm::Gfn first = gmm::gfn_of(gmm::Gpa(gmm::align_up(region.base.value(), gmm::kPageSize)));
      const uint64_t end = (region.base.value() + region.size_bytes) >> gmm::kPageShift;
      for (gmm::Gfn gfn = first; gfn.value() < end && wanted > 0; ++gfn) {
        auto index = backend.page_index(gfn);
        if (index && *index < ram_pages && seen.clear(*index)) {
          gfns.push_back(gfn);
          --wanted;
        }
      }
    }
    forget_seen();
  }
  if (gfns.size() != pages) {
    // Pages only the backend calls RAM: a backend bug. They leave the balloon anyway (the
    // reset guest owns all its memory again) but cannot be named to the backend.
    log::error("%s: reset: %llu ballooned pages have no GFN the device can find; not returned to the backend",
               options.name.c_str(), static_cast<unsigned long long>(pages - gfns.size()));
  }
  // Batches bound the backend's per-call work; the GFNs are in index order.
  constexpr size_t kBatch = 65536;
  for (size_t at = 0; at < gfns.size(); at += kBatch) {
    std::span<const gmm::Gfn> batch(gfns.data() + at, std::min(kBatch, gfns.size() - at));
    if (Status st = backend.deflate(batch); !st) {
      counters.fault(BalloonFault::kBackendError, batch.size(), "reset deflate: " + st.error().message());
    }
  }
  CounterSet::add(counters.live.reset_deflated_pages, pages);
  balloon.clear_all();
  gfns.clear();
}

// --- BalloonDevice --------------------------------------------------------------------------

BalloonDevice::BalloonDevice(BalloonBackend& backend, BalloonDeviceOptions options)
    : backend_(backend),
      options_(sanitized(std::move(options))),
      counters_(options_.name),
      impl_(std::make_unique<Impl>(backend_, counters_, options_)) {}

BalloonDevice::~BalloonDevice() = default;

uint32_t BalloonDevice::device_type() const { return dev::VIRTIO_ID_BALLOON; }

uint64_t BalloonDevice::device_features() const { return options_.features.bits(); }

uint16_t BalloonDevice::num_queues() const { return declared_queue_count(options_.features.bits()); }

uint16_t BalloonDevice::queue_max_size(uint16_t index) const {
  (void)index;
  return options_.queue_size;
}

uint32_t BalloonDevice::config_size() const { return kConfigSize; }

void BalloonDevice::read_config(uint32_t offset, std::span<uint8_t> data) {
  std::array<uint8_t, kConfigSize> image{};
  {
    std::lock_guard lock(mutex_);
    dev::store_le(std::span(image).subspan(kConfigNumPages, 4), impl_->target_pages);
    dev::store_le(std::span(image).subspan(kConfigActual, 4), impl_->actual_pages);
    // free_page_hint_cmd_id and poison_val exist only with features tide does not offer.
  }
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t at = uint64_t{offset} + i;
    data[i] = at < image.size() ? image[at] : uint8_t{0};
  }
}

void BalloonDevice::write_config(uint32_t offset, std::span<const uint8_t> data) {
  std::unique_lock lock(mutex_);
  std::array<uint8_t, 4> actual{};
  dev::store_le(actual, impl_->actual_pages);
  bool read_only = false;
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t at = uint64_t{offset} + i;
    if (at >= kConfigActual && at < kConfigActual + 4) {
      actual[at - kConfigActual] = data[i];  // a byte of `actual`: partial writes are fine
    } else {
      read_only = true;
    }
  }
  if (read_only) {
    counters_.fault(BalloonFault::kConfigReadOnlyWrite, 1,
                    log::strf("%zu-byte write at config offset %u", data.size(), offset));
  }
  const auto value = static_cast<uint32_t>(dev::load_le(actual));
  const bool changed = value != impl_->actual_pages;
  impl_->actual_pages = value;
  finish(lock, changed);
}

Status BalloonDevice::activate(const dev::VirtioActivation& activation) {
  if (activation.memory == nullptr || activation.interrupt == nullptr) {
    return make_error(std::errc::invalid_argument, options_.name + ": activated without memory or interrupt");
  }
  // The transport only lets the driver accept offered features; mask anyway.
  const uint64_t negotiated = activation.driver_features & device_features();
  std::vector<QueueRole> roles(activation.queues.size(), QueueRole::kNone);
  for (uint16_t i = 0; i < roles.size(); ++i) {
    roles[i] = queue_role(i, negotiated);
    if (roles[i] != QueueRole::kNone && activation.queues[i] == nullptr) {
      return make_error(std::errc::invalid_argument,
                        log::strf("%s: activated without its %s (queue %u)", options_.name.c_str(),
                                  queue_role_name(roles[i]), i));
    }
  }
  for (QueueRole needed : {QueueRole::kInflate, QueueRole::kDeflate}) {
    auto index = queue_index(needed, negotiated);
    if (!index || *index >= roles.size()) {
      return make_error(std::errc::invalid_argument,
                        log::strf("%s: activated without its %s", options_.name.c_str(), queue_role_name(needed)));
    }
  }
  std::unique_lock lock(mutex_);
  Impl& s = *impl_;
  s.activation = activation;
  s.negotiated_features = negotiated;
  s.roles = std::move(roles);
  s.held_stats_head.reset();
  s.active = true;
  log::debug("%s: driver ready, features 0x%llx", options_.name.c_str(), static_cast<unsigned long long>(negotiated));
  finish(lock, true);
  return ok();
}

void BalloonDevice::reset() {
  std::unique_lock lock(mutex_);
  Impl& s = *impl_;
  const bool changed = s.active || s.balloon.count() != 0 || s.actual_pages != 0;
  s.give_back_all();
  s.accounting.reset();
  s.highest_target = s.target_pages;
  s.held_stats_head.reset();  // the transport resets the queue; the driver forgets the buffer
  s.actual_pages = 0;
  s.active = false;
  s.activation = dev::VirtioActivation{};
  s.negotiated_features = 0;
  s.roles.clear();
  finish(lock, changed);
}

void BalloonDevice::queue_notified(uint16_t index) {
  std::unique_lock lock(mutex_);
  if (!impl_->active) return;  // before DRIVER_OK or after reset
  const bool changed = impl_->handle_queue(index);
  // A queue the driver broke (its avail index jumped, its rings left RAM) stays silent
  // until a reset: tell the driver so, rather than leave its requests hanging.
  if (index < impl_->activation.queues.size() && impl_->activation.queues[index] &&
      impl_->activation.queues[index]->broken()) {
    impl_->activation.interrupt->needs_reset();
  }
  finish(lock, changed);
}

uint64_t BalloonDevice::set_target_pages(uint64_t pages) {
  std::unique_lock lock(mutex_);
  return set_target_locked(lock, pages);
}

std::optional<uint64_t> BalloonDevice::try_set_target_pages(uint64_t pages) {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return std::nullopt;
  return set_target_locked(lock, pages);
}

std::optional<BalloonStatus> BalloonDevice::try_status() const {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return std::nullopt;
  return status_locked();
}

uint64_t BalloonDevice::set_target_locked(std::unique_lock<std::mutex>& lock, uint64_t pages) {
  Impl& s = *impl_;
  const auto target = static_cast<uint32_t>(
      std::min({pages, s.ram_pages, uint64_t{std::numeric_limits<uint32_t>::max()}}));
  const bool changed = target != s.target_pages;
  if (changed) {
    s.target_pages = target;
    s.highest_target = std::max<uint64_t>(s.highest_target, target);
    if (s.active) s.activation.interrupt->notify_config();
  }
  finish(lock, changed);
  return target;
}

bool BalloonDevice::request_stats() {
  std::unique_lock lock(mutex_);
  if (!impl_->active) return false;
  const bool returned = impl_->return_stats_buffer();
  if (returned) CounterSet::add(counters_.live.stats_requests, 1);
  finish(lock, returned);
  return returned;
}

void BalloonDevice::set_observer(std::function<void()> observer) {
  std::lock_guard lock(mutex_);
  observer_ = std::move(observer);
}

void BalloonDevice::finish(std::unique_lock<std::mutex>& lock, bool changed) {
  if (!changed) return;
  ++impl_->change_seq;
  std::function<void()> observer = observer_;
  lock.unlock();
  changed_.notify_all();
  if (observer) observer();
}

BalloonStatus BalloonDevice::status_locked() const {
  const Impl& s = *impl_;
  BalloonStatus st;
  st.active = s.active;
  st.negotiated_features = s.negotiated_features;
  st.target_pages = s.target_pages;
  st.actual_pages = s.actual_pages;
  st.balloon_pages = s.balloon.count();
  st.ram_pages = s.ram_pages;
  st.stats = s.stats;
  st.counters = counters_.snapshot();
  return st;
}

BalloonStatus BalloonDevice::status() const {
  std::lock_guard lock(mutex_);
  return status_locked();
}

uint64_t BalloonDevice::target_pages() const {
  std::lock_guard lock(mutex_);
  return impl_->target_pages;
}

uint64_t BalloonDevice::actual_pages() const {
  std::lock_guard lock(mutex_);
  return impl_->actual_pages;
}

uint64_t BalloonDevice::balloon_pages() const {
  std::lock_guard lock(mutex_);
  return impl_->balloon.count();
}

bool BalloonDevice::wait_until(const std::function<bool(const BalloonStatus&)>& pred, uint64_t timeout_ns) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
  for (;;) {
    BalloonStatus st;
    uint64_t seq = 0;
    {
      std::lock_guard lock(mutex_);
      st = status_locked();
      seq = impl_->change_seq;
    }
    // pred runs without the lock, so it may call into the device.
    if (pred(st)) return true;
    std::unique_lock lock(mutex_);
    if (!changed_.wait_until(lock, deadline, [&] { return impl_->change_seq != seq; })) {
      st = status_locked();
      lock.unlock();
      return pred(st);
    }
  }
}

Status BalloonDevice::check_invariants() const {
  std::lock_guard lock(mutex_);
  const Impl& s = *impl_;
  TIDE_TRY(s.balloon.check_invariants());
  TIDE_TRY(s.seen.check_invariants());
  const uint64_t size = s.balloon.count();
  TIDE_TRY(s.accounting.check_invariants(size));
  auto fail = [&](const std::string& what) {
    return make_error(std::errc::state_not_recoverable, options_.name + ": " + what);
  };
  if (s.seen.count() != 0 || !s.seen_list.empty()) return fail("request scratch set not empty between requests");
  if (s.target_pages > s.ram_pages) return fail("target above the guest's RAM");
  const BalloonCounters c = counters_.snapshot();
  if (c.inflated_pages < c.deflated_pages + c.reset_deflated_pages ||
      c.inflated_pages - c.deflated_pages - c.reset_deflated_pages != size) {
    return fail(log::strf("counters: inflated %llu - deflated %llu - reset %llu != balloon %llu",
                          static_cast<unsigned long long>(c.inflated_pages),
                          static_cast<unsigned long long>(c.deflated_pages),
                          static_cast<unsigned long long>(c.reset_deflated_pages),
                          static_cast<unsigned long long>(size)));
  }
  if (c.deflated_pages != 0 &&
      c.migrated_pages + c.oom_deflated_pages + c.unrequested_deflated_pages > c.deflated_pages) {
    return fail("counters: deflate classes exceed the deflated pages");
  }
  if (c.unrequested_inflated_pages > c.inflated_pages) return fail("counters: unrequested inflates exceed inflates");
  if (s.held_stats_head && (!s.active || s.queue_for(QueueRole::kStats) == nullptr)) {
    return fail("a stats buffer is held without an active statsq");
  }
  if (!s.active && size != 0) return fail("pages in the balloon of an inactive device");
  return ok();
}

}  // namespace tide::balloon
