// VirtioRng: the virtio entropy device driver (VIRTIO 1.2, 5.4; device type 4). One
// request queue; each request is one device-writable buffer the device fills with up to
// its length in random bytes. Requests are polled to completion (wait_us between polls);
// MSI-X deliveries are counted for the transport's statistics. Boot CPU only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "virtio/virtio_pci.hpp"

namespace tg::virtio {

class VirtioRng {
 public:
  // Finds the first virtio-rng function on bus 0 and brings it to DRIVER_OK.
  bool init(const char** error);
  bool ready() const { return ready_; }
  // Fills buffer[0..length) with device entropy. False (with *error) on timeout or a
  // device error; *filled says how much arrived.
  bool read(uint8_t* buffer, size_t length, size_t* filled, const char** error);
  uint64_t interrupt_count() const { return transport_.interrupt_count(); }
  const VirtioPciDevice& transport() const { return transport_; }

 private:
  static constexpr uint16_t kQueueSize = 64;

  VirtioPciDevice transport_;
  Virtqueue queue_;
  uint64_t dma_page_ = 0;  // one 4 KiB bounce page the device writes into
  bool ready_ = false;
};

VirtioRng& virtio_rng();

}  // namespace tg::virtio
