// libFuzzer target: the virtio-balloon device under a hostile driver. The input is read as
//   1. a machine: guest RAM (1-4 MiB, optionally split by a 1 MiB hole), how much of it the
//      backend calls RAM, whether the backend can name GFNs by index, the device's options
//      and offered features, the driver's negotiated subset, and each queue's ring layout
//      (size, event-idx/indirect, and desc/avail/used anywhere: well-formed or not);
//   2. guest memory contents (byte runs at chosen addresses);
//   3. up to 256 operations: chains added to a queue (PFN arrays, report ranges, stats
//      entries or raw descriptors, then a notification), bare notifications on any index,
//      raw pokes of memory and ring indices, target changes, stats requests, config reads
//      and writes, backend failures, and resets followed by a new activation.
// After every operation the device's check_invariants() must hold, the backend must never
// have been handed a page twice without a deflate in between (or a report of a ballooned
// page, or a non-RAM page), and the device's balloon must equal the backend's. At the end a
// reset must give every page back. Any breach aborts, which libFuzzer reports as a crash.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "balloon/balloon_device.hpp"
#include "balloon/balloon_spec.hpp"
#include "balloon/queue_layout.hpp"
#include "devices/virtio/queue.hpp"
#include "devices/virtio/virtio_spec.hpp"
#include "guestmm/base/log.hpp"
#include "unit/balloon/fake_balloon_backend.hpp"
#include "guestmm/guest_memory.hpp"

namespace tide::balloon::fuzz {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kPage = 4096;
constexpr int kMaxOps = 256;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "balloon fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

class Recorder final : public dev::VirtioInterrupt {
 public:
  void notify_queue(uint16_t) override { ++queue_notes; }
  void notify_config() override { ++config_notes; }
  uint64_t queue_notes = 0;
  uint64_t config_notes = 0;
};

// The driver's view of one queue: where its rings are and which descriptor is next.
struct Ring {
  uint16_t size = 1;
  uint64_t desc = 0, avail = 0, used = 0;
  uint16_t next_free = 0;
};

class Session {
 public:
  explicit Session(FuzzedDataProvider& in) : in_(in) {
    const uint64_t ram_bytes = kMiB * in_.ConsumeIntegralInRange<uint64_t>(1, 4);
    std::vector<std::pair<uint64_t, uint64_t>> layout;
    if (ram_bytes > kMiB && in_.ConsumeBool()) {
      const uint64_t low = ram_bytes / 2;  // a hole of 1 MiB above the first half
      layout = {{0, low}, {low + kMiB, ram_bytes - low}};
    } else {
      layout = {{0, ram_bytes}};
    }
    // One backing buffer for every input (mapping and faulting in 4 MiB per input would
    // cost more than the run); zeroed each time.
    static std::vector<std::byte> backing(5 * kMiB);
    std::fill(backing.begin(), backing.begin() + static_cast<long>(layout.back().first + layout.back().second),
              std::byte{0});
    std::vector<gmm::MemoryRegion> regions;
    for (auto [base, size] : layout) regions.push_back(gmm::MemoryRegion{gmm::Gpa(base), size, backing.data() + base});
    memory_ = gmm::GuestMemory(std::move(regions));
    // The backend's RAM: the same runs, the last one possibly shorter (memory the device
    // can read but not balloon).
    std::vector<test::FakeBalloonBackend::Ram> ram;
    for (auto [base, size] : layout) ram.push_back({base / kPage, size / kPage});
    ram.back().pages -= in_.ConsumeIntegralInRange<uint64_t>(0, ram.back().pages - 1);
    backend_ = std::make_unique<test::FakeBalloonBackend>(ram, in_.ConsumeBool());

    BalloonDeviceOptions o;
    o.name = "fuzz-balloon";
    o.features = BalloonFeatures{in_.ConsumeBool(), in_.ConsumeBool(), in_.ConsumeBool(), in_.ConsumeBool()};
    o.clock = [this] { return now_ns_ += 1000; };
    o.queue_size = static_cast<uint16_t>(1u << in_.ConsumeIntegralInRange(0, 8));
    o.max_pfns_per_request = in_.ConsumeIntegralInRange<uint64_t>(0, 600);
    o.max_report_pages_per_request = in_.ConsumeIntegralInRange<uint64_t>(0, 2048);
    device_ = std::make_unique<BalloonDevice>(*backend_, o);
    for (uint16_t i = 0; i < device_->num_queues(); ++i) {
      queues_.push_back(std::make_unique<dev::Queue>(device_->queue_max_size(i), "fuzz-q" + std::to_string(i)));
    }
    rings_.resize(queues_.size());
    activate();
    // Initial memory contents.
    for (int n = in_.ConsumeIntegralInRange(0, 8); n > 0; --n) poke();
  }

  void run() {
    for (int op = 0; op < kMaxOps && in_.remaining_bytes() > 0; ++op) {
      step();
      check();
    }
    // The end of the guest: a reset gives every page back.
    backend_->fail_deflates = 0;
    device_->reset();
    check();
    if (!backend_->ballooned.empty()) fail("reset", std::to_string(backend_->ballooned.size()) + " pages still ballooned");
  }

 private:
  [[nodiscard]] uint64_t ram_bytes() const { return memory_.total_bytes(); }
  // An address: mostly page-granular inside the image, sometimes anything at all.
  uint64_t address() {
    switch (in_.ConsumeIntegralInRange(0, 3)) {
      case 0: return in_.ConsumeIntegral<uint64_t>();
      case 1: return in_.ConsumeIntegralInRange<uint64_t>(0, ram_bytes() + 2 * kMiB);
      default: {
        const auto& regions = memory_.regions();
        const gmm::MemoryRegion& r = regions[in_.ConsumeIntegralInRange<size_t>(0, regions.size() - 1)];
        return r.base.value() + in_.ConsumeIntegralInRange<uint64_t>(0, r.size_bytes / kPage - 1) * kPage +
               (in_.ConsumeBool() ? 0 : in_.ConsumeIntegralInRange<uint64_t>(0, 15) * 16);
      }
    }
  }
  // Checked guest writes: a hostile layout may point anywhere.
  void write(uint64_t gpa, const void* bytes, size_t len) {
    if (len == 0) return;  // an empty vector's data() may be null, which memcpy must not see
    (void)memory_.write(gmm::Gpa(gpa), std::span(static_cast<const std::byte*>(bytes), len));
  }
  template <class T>
  void put(uint64_t gpa, T value) {
    write(gpa, &value, sizeof(T));
  }
  template <class T>
  T get(uint64_t gpa) {
    auto v = memory_.read_obj<T>(gmm::Gpa(gpa));
    return v ? *v : T{};
  }

  void activate() {
    negotiated_ = device_->device_features() & in_.ConsumeIntegral<uint64_t>();
    dev::VirtioActivation a;
    a.memory = &memory_;
    a.interrupt = &irq_;
    a.driver_features = negotiated_;
    for (size_t i = 0; i < queues_.size(); ++i) {
      dev::Queue& q = *queues_[i];
      Ring& r = rings_[i];
      r = Ring{};
      r.size = static_cast<uint16_t>(1u << in_.ConsumeIntegralInRange(0, 8));
      if (!q.set_size(r.size)) r.size = q.size();
      if (in_.ConsumeBool()) {  // a well-formed layout at a page of RAM
        r.desc = address() & ~(kPage - 1);
        r.avail = r.desc + 16ull * r.size;
        r.used = (r.avail + 6 + 2ull * r.size + 3) & ~3ull;
      } else {
        r.desc = address();
        r.avail = address();
        r.used = address();
      }
      q.set_desc_table(gmm::Gpa(r.desc));
      q.set_avail_ring(gmm::Gpa(r.avail));
      q.set_used_ring(gmm::Gpa(r.used));
      q.set_ring_features(in_.ConsumeBool(), in_.ConsumeBool());
      q.set_ready(in_.ConsumeIntegralInRange(0, 7) != 0);
      a.queues.push_back(&q);
    }
    if (!device_->activate(a)) fail("activate", "refused a full set of queues");
  }

  void poke() {
    const uint64_t at = address();
    const std::vector<uint8_t> bytes = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(0, 256));
    if (!bytes.empty()) write(at, bytes.data(), bytes.size());
  }

  // A PFN: mostly a small pool of RAM pages (so pages repeat and collide), sometimes
  // anything.
  uint32_t pfn() {
    if (in_.ConsumeIntegralInRange(0, 4) == 0) return in_.ConsumeIntegral<uint32_t>();
    const auto& regions = memory_.regions();
    const gmm::MemoryRegion& r = regions[in_.ConsumeIntegralInRange<size_t>(0, regions.size() - 1)];
    return static_cast<uint32_t>(r.base.value() / kPage + in_.ConsumeIntegralInRange<uint64_t>(0, 63) %
                                                              (r.size_bytes / kPage));
  }

  // Appends the bytes of `value` (x86: little-endian, the wire order).
  template <class T>
  static void append(std::vector<uint8_t>& out, T value) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &value, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
  }

  // One buffer's payload written at a fresh address; returns (addr, len).
  std::pair<uint64_t, uint32_t> payload(QueueRole role) {
    const uint64_t at = address();
    std::vector<uint8_t> bytes;
    switch (role) {
      case QueueRole::kInflate:
      case QueueRole::kDeflate:
        for (int n = in_.ConsumeIntegralInRange(0, 40); n > 0; --n) {
          append(bytes, pfn());
        }
        break;
      case QueueRole::kStats:
        for (int n = in_.ConsumeIntegralInRange(0, 12); n > 0; --n) {
          append(bytes, in_.ConsumeIntegralInRange<uint16_t>(0, 12));  // le16 tag
          append(bytes, in_.ConsumeIntegral<uint64_t>());              // le64 value
        }
        break;
      case QueueRole::kReporting:  // the range itself is the payload: nothing to write
        return {at & (in_.ConsumeBool() ? ~(kPage - 1) : ~uint64_t{0}),
                static_cast<uint32_t>(in_.ConsumeIntegralInRange<uint64_t>(0, 64) * kPage +
                                      (in_.ConsumeIntegralInRange(0, 7) == 0 ? 1 : 0))};
      default: break;
    }
    write(at, bytes.data(), bytes.size());
    uint32_t len = static_cast<uint32_t>(bytes.size());
    if (in_.ConsumeIntegralInRange(0, 7) == 0) len = in_.ConsumeIntegral<uint32_t>();  // a lying length
    return {at, len};
  }

  // The driver adds a chain of 1-4 descriptors to queue `index` and publishes it.
  void add_chain(uint16_t index) {
    Ring& r = rings_[index];
    const QueueRole role = queue_role(index, negotiated_);
    const int n = in_.ConsumeIntegralInRange(1, 4);
    const uint16_t head = r.next_free;
    for (int i = 0; i < n; ++i) {
      const auto slot = static_cast<uint16_t>((r.next_free + i) % r.size);
      auto [addr, len] = payload(role);
      uint16_t flags = role == QueueRole::kReporting ? dev::VIRTQ_DESC_F_WRITE : 0;
      if (i + 1 < n) flags |= dev::VIRTQ_DESC_F_NEXT;
      uint16_t next = static_cast<uint16_t>((slot + 1) % r.size);
      if (in_.ConsumeIntegralInRange(0, 9) == 0) {  // anything at all
        flags = in_.ConsumeIntegral<uint16_t>();
        next = in_.ConsumeIntegral<uint16_t>();
      }
      put(r.desc + 16ull * slot, dev::VirtqDesc{addr, len, flags, next});
    }
    r.next_free = static_cast<uint16_t>((r.next_free + n) % r.size);
    const auto idx = get<uint16_t>(r.avail + 2);
    put<uint16_t>(r.avail + 4 + 2ull * (idx % r.size), head);
    put<uint16_t>(r.avail + 2, static_cast<uint16_t>(idx + 1));
  }

  void step() {
    const uint16_t queue_count = static_cast<uint16_t>(queues_.size());
    switch (in_.ConsumeIntegralInRange(0, 12)) {
      case 0:
      case 1:
      case 2:
      case 3: {  // a request on a queue, then its notification
        const auto index = in_.ConsumeIntegralInRange<uint16_t>(0, static_cast<uint16_t>(queue_count - 1));
        for (int n = in_.ConsumeIntegralInRange(1, 3); n > 0; --n) add_chain(index);
        device_->queue_notified(index);
        break;
      }
      case 4:  // a notification on any index, spurious or not
        device_->queue_notified(in_.ConsumeIntegralInRange<uint16_t>(0, static_cast<uint16_t>(queue_count + 2)));
        break;
      case 5: poke(); break;
      case 6: {  // raw ring fields: avail idx/flags/used_event
        const Ring& r = rings_[in_.ConsumeIntegralInRange<size_t>(0, rings_.size() - 1)];
        const uint64_t field = in_.PickValueInArray<uint64_t>({r.avail, r.avail + 2, r.avail + 4 + 2ull * r.size});
        put<uint16_t>(field, in_.ConsumeIntegral<uint16_t>());
        break;
      }
      case 7: (void)device_->set_target_pages(in_.ConsumeIntegralInRange<uint64_t>(0, ram_bytes() / kPage + 16)); break;
      case 8: (void)device_->request_stats(); break;
      case 9: {
        uint8_t bytes[8] = {};
        const auto len = in_.ConsumeIntegralInRange<size_t>(1, 8);
        const auto offset = in_.ConsumeIntegralInRange<uint32_t>(0, 20);
        if (in_.ConsumeBool()) {
          for (size_t i = 0; i < len; ++i) bytes[i] = in_.ConsumeIntegral<uint8_t>();
          device_->write_config(offset, std::span<const uint8_t>(bytes, len));
        } else {
          device_->read_config(offset, std::span<uint8_t>(bytes, len));
        }
        break;
      }
      case 10:  // the memory manager refuses the next calls
        backend_->fail_inflates = in_.ConsumeIntegralInRange(0, 2);
        backend_->fail_deflates = in_.ConsumeIntegralInRange(0, 2);
        backend_->fail_reports = in_.ConsumeIntegralInRange(0, 2);
        break;
      case 11: {  // driver reset, then a new driver
        // A failed deflate during reset leaves pages the backend still holds (the contract
        // makes a repeat harmless; this fake flags it), so resets run without failures.
        backend_->fail_deflates = 0;
        device_->reset();
        for (auto& q : queues_) q->reset();
        check();
        if (!backend_->ballooned.empty()) fail("reset", "pages still ballooned after a reset");
        activate();
        break;
      }
      default: {  // the status a control thread reads
        BalloonStatus st = device_->status();
        if (st.balloon_pages > st.ram_pages) fail("status", "balloon larger than RAM");
        break;
      }
    }
  }

  void check() {
    if (Status st = device_->check_invariants(); !st) fail("check_invariants", st.error().message());
    if (!backend_->violations.empty()) fail("backend", backend_->violations.front());
    if (device_->balloon_pages() != backend_->ballooned.size()) {
      fail("balloon", std::to_string(device_->balloon_pages()) + " pages in the device, " +
                          std::to_string(backend_->ballooned.size()) + " in the backend");
    }
    for (const auto& q : queues_) {
      if (Status st = q->check_invariants(); !st) fail("queue", st.error().message());
    }
  }

  FuzzedDataProvider& in_;
  gmm::GuestMemory memory_;
  std::unique_ptr<test::FakeBalloonBackend> backend_;
  std::unique_ptr<BalloonDevice> device_;
  std::vector<std::unique_ptr<dev::Queue>> queues_;
  std::vector<Ring> rings_;
  Recorder irq_;
  uint64_t negotiated_ = 0;
  uint64_t now_ns_ = 0;
};

}  // namespace
}  // namespace tide::balloon::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Every fault kind is logged once per device, i.e. once per input: keep the output for
  // crashes.
  tide::log::set_level(tide::log::Level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  tide::balloon::fuzz::Session session(in);
  session.run();
  return 0;
}
