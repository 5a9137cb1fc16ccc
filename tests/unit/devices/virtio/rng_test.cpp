// virtio-rng end to end: a guest driver sequence through ECAM and BAR 0 (negotiate, queue
// and MSI-X set-up, DRIVER_OK), requests in a virtqueue, a doorbell kick, and the used
// ring, interrupts and buffer contents checked afterwards.
#include "devices/virtio/rng.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "devices/pci/pci_root.hpp"
#include "devices/virtio/virtio_pci.hpp"
#include "unit/devices/fake_doorbells.hpp"
#include "unit/devices/fake_guest_memory.hpp"
#include "unit/devices/fake_interrupts.hpp"
#include "unit/devices/virtio_pci_driver.hpp"
#include "unit/devices/virtqueue_builder.hpp"

namespace tide::dev {
namespace {

using test::Buf;
using test::FakeDoorbellRegistry;
using test::FakeGuestMemory;
using test::FakeInterruptController;
using test::VirtioPciDriver;
using test::VirtqueueBuilder;

constexpr uint64_t kVersion1 = uint64_t{1} << VIRTIO_F_VERSION_1;
constexpr uint64_t kEventIdx = uint64_t{1} << VIRTIO_F_EVENT_IDX;
constexpr uint16_t kQueueSize = 8;
constexpr uint16_t kQueueVector = 1;
constexpr uint8_t kSlot = 1;

// A deterministic entropy source: bytes 1, 2, ..., 255, 1, ... (never 0, so a test can
// tell written bytes from untouched ones).
class CountingSource {
 public:
  Status operator()(std::span<std::byte> out) {
    for (std::byte& b : out) {
      next_ = static_cast<uint8_t>(next_ % 255 + 1);
      b = std::byte{next_};
    }
    return ok();
  }

 private:
  uint8_t next_ = 0;
};

class RngTest : public ::testing::Test {
 protected:
  FakeGuestMemory mem{{{0, 4u << 20}}};
  FakeInterruptController irq;
  FakeDoorbellRegistry doorbells;
  Bus mmio;
  std::shared_ptr<PciRoot> root = std::make_shared<PciRoot>(mmio);
  bool fail_entropy = false;
  CountingSource counting;
  std::shared_ptr<VirtioRng> rng = std::make_shared<VirtioRng>([this](std::span<std::byte> out) -> Status {
    if (fail_entropy) return make_error(std::errc::resource_unavailable_try_again, "no entropy");
    return counting(out);
  });
  std::shared_ptr<VirtioPciDevice> transport;
  std::unique_ptr<VirtioPciDriver> driver;
  VirtqueueBuilder vq = VirtqueueBuilder::at(mem, kQueueSize, 0x10000);

  void SetUp() override {
    ASSERT_TRUE(mmio.insert(PciEcam::kBase, PciEcam::kSize, std::make_shared<PciEcam>(root)));
    transport = VirtioPciDevice::create(rng, mem.memory(), irq, doorbells).value();
    ASSERT_TRUE(root->add_device(transport, kSlot));
    driver = std::make_unique<VirtioPciDriver>(mmio, kSlot);
  }

  // What Linux's virtio-rng probe does, in order.
  void bring_up(uint64_t features = kVersion1, bool msix = true, bool ok = true) {
    ASSERT_EQ(driver->cfg_read(kPciDeviceId, 2), 0x1044u);
    ASSERT_EQ(driver->common_read(kCommonNumQueues, 2), 1u);
    ASSERT_TRUE(driver->negotiate(features));
    uint16_t vector = VIRTIO_MSI_NO_VECTOR;
    if (msix) {
      driver->msix_control(kMsixControlEnable | kMsixControlFunctionMask);
      driver->msix_program(0, 0xfee00000, 0x30, false);
      driver->msix_program(kQueueVector, 0xfee00000, 0x31, false);
      driver->msix_control(kMsixControlEnable);
      driver->common_write(kCommonMsixConfig, 0, 2);
      vector = kQueueVector;
    }
    ASSERT_EQ(driver->setup_queue(0, kQueueSize, vq.desc(), vq.avail(), vq.used(), vector), kQueueSize);
    if (ok) driver->driver_ok();
  }
  void kick() { ASSERT_TRUE(doorbells.ring(driver->notify_address(0), 2, 0)); }
  std::vector<uint8_t> read(uint64_t gpa, size_t len) {
    auto b = mem.bytes(gpa, len);
    std::vector<uint8_t> v(len);
    std::transform(b.begin(), b.end(), v.begin(), [](std::byte x) { return static_cast<uint8_t>(x); });
    return v;
  }
  static bool all_nonzero(const std::vector<uint8_t>& v) {
    return std::none_of(v.begin(), v.end(), [](uint8_t x) { return x == 0; });
  }
  static bool all_zero(const std::vector<uint8_t>& v) {
    return std::all_of(v.begin(), v.end(), [](uint8_t x) { return x == 0; });
  }
};

TEST_F(RngTest, ServesRequestsAndInterruptsOnce) {
  bring_up();
  uint16_t a = vq.add_chain({{0x20000, 32, true}});
  uint16_t b = vq.add_chain({{0x21000, 16, true}, {0x22000, 16, true}});
  kick();
  ASSERT_EQ(vq.used_idx(), 2);
  EXPECT_EQ(vq.used(0).id, a);
  EXPECT_EQ(vq.used(0).len, 32u);
  EXPECT_EQ(vq.used(1).id, b);
  EXPECT_EQ(vq.used(1).len, 32u);
  EXPECT_TRUE(all_nonzero(read(0x20000, 32)));
  EXPECT_TRUE(all_nonzero(read(0x21000, 16)));
  EXPECT_TRUE(all_nonzero(read(0x22000, 16)));
  EXPECT_TRUE(all_zero(read(0x20020, 16)));  // nothing past the buffer
  EXPECT_EQ(irq.msi(kQueueVector).triggers, 1);
  EXPECT_EQ(irq.msi(kQueueVector).messages.back(), (MsiMessage{0xfee00000, 0x31}));
  EXPECT_EQ(irq.msi(0).triggers, 0);
  EXPECT_EQ(rng->bytes_served(), 64u);
  EXPECT_EQ(rng->chains_served(), 2u);
  EXPECT_EQ(transport->queue(0).total_faults(), 0u);
}

TEST_F(RngTest, RealHostEntropy) {
  auto host_rng = std::make_shared<VirtioRng>();
  auto t = VirtioPciDevice::create(host_rng, mem.memory(), irq, doorbells).value();
  ASSERT_TRUE(root->add_device(t, 2));
  VirtioPciDriver d(mmio, 2);
  ASSERT_TRUE(d.negotiate(kVersion1));
  auto q = VirtqueueBuilder::at(mem, kQueueSize, 0x80000);
  d.setup_queue(0, kQueueSize, q.desc(), q.avail(), q.used());
  d.driver_ok();
  q.add_chain({{0x90000, 4096, true}});
  q.add_chain({{0x91000, 4096, true}});
  ASSERT_TRUE(d.notify(0));
  ASSERT_EQ(q.used_idx(), 2);
  EXPECT_EQ(q.used(0).len, 4096u);
  auto first = read(0x90000, 4096);
  auto second = read(0x91000, 4096);
  EXPECT_FALSE(all_zero(first));
  EXPECT_NE(first, second);
  EXPECT_EQ(irq.wakes(), 1);  // no MSI-X: the ISR path
}

TEST_F(RngTest, AtMost64KiBPerChain) {
  bring_up();
  vq.add_chain({{0x100000, 100 * 1024, true}});
  vq.add_chain({{0x200000, 40 * 1024, true}, {0x300000, 40 * 1024, true}});
  kick();
  ASSERT_EQ(vq.used_idx(), 2);
  EXPECT_EQ(vq.used(0).len, VirtioRng::kMaxBytesPerChain);
  EXPECT_EQ(vq.used(1).len, VirtioRng::kMaxBytesPerChain);
  EXPECT_TRUE(all_nonzero(read(0x100000, 64 * 1024)));
  EXPECT_TRUE(all_zero(read(0x100000 + 64 * 1024, 36 * 1024)));
  EXPECT_TRUE(all_nonzero(read(0x300000, 24 * 1024)));
  EXPECT_TRUE(all_zero(read(0x300000 + 24 * 1024, 16 * 1024)));
}

TEST_F(RngTest, ReadableOnlyRequestGetsNothing) {
  bring_up();
  vq.add_chain({{0x20000, 32, false}});
  kick();
  ASSERT_EQ(vq.used_idx(), 1);
  EXPECT_EQ(vq.used(0).len, 0u);
  EXPECT_TRUE(all_zero(read(0x20000, 32)));
}

TEST_F(RngTest, EntropyFailureReturnsAnEmptyBuffer) {
  bring_up();
  fail_entropy = true;
  vq.add_chain({{0x20000, 32, true}});
  kick();
  ASSERT_EQ(vq.used_idx(), 1);
  EXPECT_EQ(vq.used(0).len, 0u);
  EXPECT_EQ(rng->entropy_failures(), 1u);
  fail_entropy = false;
  vq.add_chain({{0x20000, 32, true}});
  kick();
  EXPECT_EQ(vq.used(1).len, 32u);
}

TEST_F(RngTest, HostileRequestIsReturnedAndServiceGoesOn) {
  bring_up();
  uint16_t bad = vq.add_chain({{0x7fffff00, 64, true}});  // outside the 4 MiB of RAM
  uint16_t good = vq.add_chain({{0x20000, 32, true}});
  kick();
  ASSERT_EQ(vq.used_idx(), 2);
  EXPECT_EQ(vq.used(0).id, bad);
  EXPECT_EQ(vq.used(0).len, 0u);
  EXPECT_EQ(vq.used(1).id, good);
  EXPECT_EQ(vq.used(1).len, 32u);
  EXPECT_EQ(transport->queue(0).fault_count(QueueFault::kBufferOutOfRam), 1u);
  EXPECT_EQ(irq.msi(kQueueVector).triggers, 1);
}

TEST_F(RngTest, PollingGuestWithoutMsixIsWoken) {
  bring_up(kVersion1, /*msix=*/false);
  vq.add_chain({{0x20000, 8, true}});
  kick();
  EXPECT_EQ(vq.used_idx(), 1);
  EXPECT_EQ(irq.total_triggers(), 0);
  EXPECT_EQ(irq.wakes(), 1);
  EXPECT_EQ(driver->read_isr(), VIRTIO_PCI_ISR_QUEUE);
}

TEST_F(RngTest, EventIdxSuppressesInterruptsTheDriverDidNotAskFor) {
  bring_up(kVersion1 | kEventIdx);
  vq.set_used_event(0);
  vq.add_chain({{0x20000, 8, true}});
  kick();
  EXPECT_EQ(irq.msi(kQueueVector).triggers, 1);
  EXPECT_EQ(vq.avail_event(), 1);  // "kick me when entry 1 is published"
  vq.set_used_event(5);            // the driver does not want to hear before used idx 6
  vq.add_chain({{0x20000, 8, true}});
  kick();
  EXPECT_EQ(vq.used_idx(), 2);
  EXPECT_EQ(irq.msi(kQueueVector).triggers, 1);
  vq.set_used_event(2);
  vq.add_chain({{0x20000, 8, true}});
  kick();
  EXPECT_EQ(irq.msi(kQueueVector).triggers, 2);
}

TEST_F(RngTest, RequestsQueuedBeforeDriverOkAreServedOnDriverOk) {
  bring_up(kVersion1, true, /*ok=*/false);
  vq.add_chain({{0x20000, 8, true}});
  kick();  // device not running yet
  EXPECT_EQ(vq.used_idx(), 0);
  driver->driver_ok();
  EXPECT_EQ(vq.used_idx(), 1);
  EXPECT_EQ(irq.msi(kQueueVector).triggers, 1);
}

TEST_F(RngTest, DriverReloadStartsFromACleanQueue) {
  bring_up();
  vq.add_chain({{0x20000, 8, true}});
  kick();
  ASSERT_EQ(vq.used_idx(), 1);
  driver->set_status(0);
  EXPECT_EQ(doorbells.size(), 0u);
  // The new driver instance puts its rings elsewhere and starts from index 0.
  VirtqueueBuilder fresh = VirtqueueBuilder::at(mem, kQueueSize, 0x40000);
  vq = fresh;
  bring_up();
  vq.add_chain({{0x21000, 8, true}});
  kick();
  ASSERT_EQ(vq.used_idx(), 1);
  EXPECT_EQ(vq.used(0).len, 8u);
  EXPECT_EQ(rng->chains_served(), 2u);
}

// Queue work on an "event thread" racing with a vCPU that resets and re-initializes the
// device: the device lock and the reset contract keep the queues from being used while
// the transport resets them (run under ASan in the sanitizer build).
TEST_F(RngTest, NotificationsRacingWithResets) {
  std::atomic<bool> stop{false};
  std::thread event_thread([&] {
    while (!stop.load()) rng->queue_notified(0);
  });
  for (int round = 0; round < 200; ++round) {
    VirtqueueBuilder fresh = VirtqueueBuilder::at(mem, kQueueSize, 0x40000 + 0x1000ull * (round % 4));
    for (uint64_t off = 0; off < 0x1000; off += 8) mem.put<uint64_t>(fresh.desc() + off, 0);
    vq = fresh;
    bring_up();
    vq.add_chain({{0x20000, 8, true}});
    kick();
    driver->set_status(0);
  }
  stop = true;
  event_thread.join();
  EXPECT_EQ(rng->chains_served(), 200u);
  EXPECT_EQ(transport->queue(0).total_faults(), 0u);
}

}  // namespace
}  // namespace tide::dev
