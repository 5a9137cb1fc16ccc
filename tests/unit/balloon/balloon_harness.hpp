// BalloonHarness: a BalloonDevice over a FakeBalloonBackend, driven the way a transport and
// a guest driver drive it, without PCI: it owns the queues, configures their rings in fake
// guest memory, activates the device with the negotiated features, writes requests
// (inflate/deflate PFN arrays, report ranges, stats entries) into a data area, publishes
// them, notifies the device and reads the used rings back. A fake clock and a recording
// VirtioInterrupt stand in for the host. Guest RAM: 16 MiB at 0 and 8 MiB at 32 MiB (a
// hole between), which is also the backend's RAM.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "balloon/balloon_device.hpp"
#include "balloon/balloon_spec.hpp"
#include "balloon/queue_layout.hpp"
#include "devices/virtio/queue.hpp"
#include "unit/balloon/fake_balloon_backend.hpp"
#include "unit/devices/fake_guest_memory.hpp"
#include "unit/devices/virtqueue_builder.hpp"

namespace tide::balloon::test {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kPage = 4096;

// Feature bits as a driver writes them.
inline constexpr uint64_t kMustTellHost = uint64_t{1} << VIRTIO_BALLOON_F_MUST_TELL_HOST;
inline constexpr uint64_t kStatsVq = uint64_t{1} << VIRTIO_BALLOON_F_STATS_VQ;
inline constexpr uint64_t kDeflateOnOom = uint64_t{1} << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
inline constexpr uint64_t kReporting = uint64_t{1} << VIRTIO_BALLOON_F_PAGE_REPORTING;
inline constexpr uint64_t kAllFeatures = kMustTellHost | kStatsVq | kDeflateOnOom | kReporting;

// Records interrupts. Thread-safe.
class RecordingInterrupt final : public dev::VirtioInterrupt {
 public:
  void notify_queue(uint16_t index) override {
    std::lock_guard lock(mutex_);
    queue_notes_.push_back(index);
  }
  void notify_config() override {
    std::lock_guard lock(mutex_);
    ++config_notes_;
  }
  void needs_reset() override {
    std::lock_guard lock(mutex_);
    ++needs_reset_;
  }
  [[nodiscard]] int needs_reset_calls() const {
    std::lock_guard lock(mutex_);
    return needs_reset_;
  }
  [[nodiscard]] int config_notes() const {
    std::lock_guard lock(mutex_);
    return config_notes_;
  }
  [[nodiscard]] int queue_notes(uint16_t index) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (uint16_t i : queue_notes_) n += i == index ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<uint16_t> queue_notes_;
  int config_notes_ = 0;
  int needs_reset_ = 0;
};

struct HarnessOptions {
  BalloonFeatures features{true, true, true, true};  // offer everything tide implements
  bool backend_knows_gfns = true;
  // RAM pages the backend sees at GFN 0 (the fake guest memory always has 16 MiB there):
  // fewer makes the top of that region memory the device can read but not balloon.
  uint64_t backend_low_pages = (16 * kMiB) / kPage;
  uint64_t max_pfns_per_request = 4096;
  uint64_t max_report_pages_per_request = uint64_t{1} << 20;
};

class BalloonHarness {
 public:
  static constexpr uint16_t kQueueSize = 16;
  static constexpr uint64_t kRingBase = 0x10000;    // queue i's rings at kRingBase + i * 0x1000
  static constexpr uint64_t kDataBase = 0x100000;   // request payloads, bump-allocated
  static constexpr uint64_t kDataEnd = 0x400000;
  static constexpr uint64_t kHighRamGfn = (32 * kMiB) / kPage;
  static constexpr uint64_t kLowPages = (16 * kMiB) / kPage;
  static constexpr uint64_t kHighPages = (8 * kMiB) / kPage;

  BalloonHarness(const BalloonHarness&) = delete;
  BalloonHarness& operator=(const BalloonHarness&) = delete;
  explicit BalloonHarness(HarnessOptions o = {})
      : mem({{0, 16 * kMiB}, {32 * kMiB, 8 * kMiB}}),
        backend({{0, o.backend_low_pages}, {kHighRamGfn, kHighPages}}, o.backend_knows_gfns) {
    BalloonDeviceOptions d;
    d.features = o.features;
    d.name = "test-balloon";
    d.clock = [this] { return now_ns += clock_step_ns; };
    d.max_pfns_per_request = o.max_pfns_per_request;
    d.max_report_pages_per_request = o.max_report_pages_per_request;
    device = std::make_unique<BalloonDevice>(backend, d);
    for (uint16_t i = 0; i < device->num_queues(); ++i) {
      queues.push_back(std::make_unique<dev::Queue>(device->queue_max_size(i), "balloon-q" + std::to_string(i)));
      rings.push_back(dev::test::VirtqueueBuilder::at(mem, kQueueSize, kRingBase + 0x1000ull * i));
    }
  }

  // The driver's side of DRIVER_OK with `features` negotiated: every queue it has is set up.
  Status activate(uint64_t features = kAllFeatures) {
    negotiated = features;
    dev::VirtioActivation a;
    a.memory = &mem.memory();
    a.interrupt = &irq;
    a.driver_features = features;
    for (size_t i = 0; i < queues.size(); ++i) {
      if (queue_role(static_cast<uint16_t>(i), features) != QueueRole::kNone) rings[i].configure(*queues[i]);
      a.queues.push_back(queues[i].get());
    }
    return device->activate(a);
  }
  // A transport reset: device first, then the queues (and a fresh driver's rings).
  void reset() {
    device->reset();
    for (size_t i = 0; i < queues.size(); ++i) {
      queues[i]->reset();
      rings[i] = dev::test::VirtqueueBuilder::at(mem, kQueueSize, kRingBase + 0x1000ull * i);
      for (uint64_t b = 0; b < 0x1000; b += 8) mem.put<uint64_t>(kRingBase + 0x1000ull * i + b, 0);
    }
  }

  [[nodiscard]] uint16_t index_of(QueueRole role) const { return *queue_index(role, negotiated); }
  dev::test::VirtqueueBuilder& ring(QueueRole role) { return rings[index_of(role)]; }
  dev::Queue& queue(QueueRole role) { return *queues[index_of(role)]; }
  void notify(QueueRole role) { device->queue_notified(index_of(role)); }

  // Copies `bytes` into the data area; returns its GPA.
  uint64_t put_bytes(const void* bytes, size_t len) {
    if (data_next_ + len > kDataEnd) data_next_ = kDataBase;
    uint64_t gpa = data_next_;
    if (len != 0) std::memcpy(mem.bytes(gpa, len).data(), bytes, len);
    data_next_ = (data_next_ + len + 15) & ~uint64_t{15};
    return gpa;
  }
  uint64_t put_pfns(const std::vector<uint32_t>& pfns) {
    return put_bytes(pfns.data(), pfns.size() * sizeof(uint32_t));
  }

  // One request on `role` with the PFNs in one buffer; returns the chain's head.
  uint16_t send_pfns(QueueRole role, const std::vector<uint32_t>& pfns) {
    uint64_t gpa = put_pfns(pfns.empty() ? std::vector<uint32_t>{0} : pfns);
    uint16_t head = ring(role).add_chain({{gpa, static_cast<uint32_t>(4 * pfns.size()), false}});
    notify(role);
    return head;
  }
  uint16_t inflate(const std::vector<uint32_t>& pfns) { return send_pfns(QueueRole::kInflate, pfns); }
  uint16_t deflate(const std::vector<uint32_t>& pfns) { return send_pfns(QueueRole::kDeflate, pfns); }
  // One report chain: one device-writable buffer per (gpa, len).
  uint16_t report(const std::vector<std::pair<uint64_t, uint32_t>>& buffers) {
    std::vector<dev::test::Buf> bufs;
    for (auto [gpa, len] : buffers) bufs.push_back({gpa, len, true});
    uint16_t head = ring(QueueRole::kReporting).add_chain(bufs);
    notify(QueueRole::kReporting);
    return head;
  }
  // One stats buffer with these (tag, value) entries, packed as the spec lays them out.
  uint16_t send_stats(const std::vector<std::pair<uint16_t, uint64_t>>& entries, size_t extra_bytes = 0) {
    std::vector<uint8_t> bytes;
    for (auto [tag, value] : entries) {
      uint8_t e[kStatEntryBytes];
      std::memcpy(e, &tag, 2);
      std::memcpy(e + 2, &value, 8);
      bytes.insert(bytes.end(), e, e + kStatEntryBytes);
    }
    bytes.resize(bytes.size() + extra_bytes, 0xee);
    uint64_t gpa = put_bytes(bytes.data(), bytes.size());
    uint16_t head = ring(QueueRole::kStats).add_chain({{gpa, static_cast<uint32_t>(bytes.size()), false}});
    notify(QueueRole::kStats);
    return head;
  }

  // The used ring of `role`: how many entries, and entry i.
  [[nodiscard]] uint16_t used_count(QueueRole role) { return ring(role).used_idx(); }
  [[nodiscard]] dev::VirtqUsedElem used(QueueRole role, uint16_t i) { return ring(role).used(i); }

  // Writes `actual` the way Linux does (one le32 config write).
  void write_actual(uint32_t pages) {
    uint8_t b[4];
    std::memcpy(b, &pages, 4);
    device->write_config(kConfigActual, b);
  }
  [[nodiscard]] uint32_t read_config32(uint32_t offset) {
    uint8_t b[4];
    device->read_config(offset, b);
    uint32_t v;
    std::memcpy(&v, b, 4);
    return v;
  }
  [[nodiscard]] BalloonCounters counters() const { return device->counters(); }
  [[nodiscard]] uint64_t fault(BalloonFault f) const { return device->counters().fault(f); }

  // GFNs of `n` consecutive RAM pages starting at `first` (a PFN is a GFN here).
  static std::vector<uint32_t> pfn_range(uint32_t first, uint32_t n) {
    std::vector<uint32_t> v;
    for (uint32_t i = 0; i < n; ++i) v.push_back(first + i);
    return v;
  }

  dev::test::FakeGuestMemory mem;
  FakeBalloonBackend backend;
  RecordingInterrupt irq;
  uint64_t now_ns = 1'000'000;
  uint64_t clock_step_ns = 0;  // the clock advances by this on each read
  std::unique_ptr<BalloonDevice> device;
  std::vector<std::unique_ptr<dev::Queue>> queues;
  std::vector<dev::test::VirtqueueBuilder> rings;
  uint64_t negotiated = 0;

 private:
  uint64_t data_next_ = kDataBase;
};

}  // namespace tide::balloon::test
