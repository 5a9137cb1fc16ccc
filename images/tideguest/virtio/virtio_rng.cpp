// virtio-rng driver (see virtio_rng.hpp).
#include "virtio/virtio_rng.hpp"

#include "dev/clock.hpp"
#include "dev/pci.hpp"
#include "dev/wait.hpp"
#include "lib/string.hpp"
#include "mm/buddy.hpp"

namespace tg::virtio {
namespace {

constexpr uint16_t kRequestQueue = 0;
constexpr uint32_t kPollIntervalUs = 50;
constexpr uint64_t kRequestTimeoutNs = 5'000'000'000;
// After a completion, how long to give its MSI-X interrupt to arrive before moving on.
// The device writes the used ring before it signals, so a poll can win the race; a
// bounded wait keeps the per-device interrupt count meaningful (a lost interrupt costs
// at most this much latency, never correctness).
constexpr uint64_t kInterruptSettleNs = 500'000;
// A device that keeps completing requests with no data would make read() spin forever.
constexpr int kMaxEmptyCompletions = 16;

VirtioRng g_rng;

}  // namespace

VirtioRng& virtio_rng() { return g_rng; }

bool VirtioRng::init(const char** error) {
  if (ready_) return true;
  dev::pci_init();
  const dev::PciFunction* found = nullptr;
  for (size_t i = 0; i < dev::pci_function_count() && found == nullptr; ++i) {
    if (is_virtio_device(dev::pci_function(i), VIRTIO_ID_RNG)) found = &dev::pci_function(i);
  }
  if (found == nullptr) {
    *error = "no virtio-rng device on bus 0";
    return false;
  }
  if (!transport_.attach(*found, error)) return false;
  uint64_t features = 0;
  if (!transport_.negotiate(0, &features, error)) return false;
  transport_.setup_msix(2);  // config + request queue; polling works without
  if (!transport_.setup_queue(kRequestQueue, queue_, kQueueSize, error)) {
    transport_.fail();
    return false;
  }
  dma_page_ = mm::alloc_pages(0);
  if (dma_page_ == 0) {
    transport_.fail();
    *error = "out of memory";
    return false;
  }
  transport_.driver_ok();
  ready_ = true;
  return true;
}

bool VirtioRng::read(uint8_t* buffer, size_t length, size_t* filled, const char** error) {
  *filled = 0;
  int empty = 0;
  while (*filled < length) {
    size_t want = length - *filled;
    if (want > mm::kPageSize) want = mm::kPageSize;
    VirtqBuffer request{dma_page_, static_cast<uint32_t>(want), true};
    if (queue_.submit(&request, 1) < 0) {
      *error = "request queue full";
      return false;
    }
    transport_.notify(kRequestQueue);
    const uint64_t interrupts_before = transport_.interrupt_count();
    const uint64_t deadline = dev::now_ns() + kRequestTimeoutNs;
    uint32_t id = 0, used = 0;
    while (!queue_.take_used(&id, &used)) {
      if (dev::now_ns() > deadline) {
        *error = "timed out waiting for the device";
        return false;
      }
      dev::wait_us(kPollIntervalUs);
    }
    if (transport_.msix_entries() > 1) {
      const uint64_t settle_deadline = dev::now_ns() + kInterruptSettleNs;
      while (transport_.interrupt_count() == interrupts_before && dev::now_ns() < settle_deadline)
        dev::wait_us(kPollIntervalUs);
    }
    if (used > want) used = static_cast<uint32_t>(want);  // never trust the device's length
    memcpy(buffer + *filled, reinterpret_cast<const void*>(dma_page_), used);
    *filled += used;
    if (used != 0) {
      empty = 0;
    } else if (++empty == kMaxEmptyCompletions) {
      *error = "device keeps returning no data";
      return false;
    }
  }
  return true;
}

}  // namespace tg::virtio
