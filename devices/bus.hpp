// Bus: dispatch of guest port I/O or MMIO accesses to the device that owns the address.
// Ranges never overlap. Lookups take a shared lock (vCPU threads dispatch concurrently);
// insert/remove take it exclusively (set-up, and BAR moves programmed by the guest).
// Devices must synchronize their own state: two vCPUs may call into one device at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>

#include "guestmm/base/error.hpp"

namespace tide::dev {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  // `base` is the start of the range the access hit (a device may own several ranges),
  // `offset` the distance from it. data.size() is the access width: 1, 2, 4 or 8 bytes.
  virtual void read(uint64_t base, uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t base, uint64_t offset, std::span<const uint8_t> data) = 0;
};

class Bus {
 public:
  // Fails with invalid_argument on a zero length, overflow or overlap with a range.
  [[nodiscard]] Status insert(uint64_t base, uint64_t len, std::shared_ptr<BusDevice> device);
  // Removes the range starting exactly at `base`; false if there is none.
  bool remove(uint64_t base);

  // Dispatch. False if no device owns the whole access; a read then leaves `data` as all ones
  // (what real hardware returns for an unclaimed address).
  bool read(uint64_t addr, std::span<uint8_t> data) const;
  bool write(uint64_t addr, std::span<const uint8_t> data) const;

 private:
  struct Range {
    uint64_t len;
    std::shared_ptr<BusDevice> device;
  };
  // Returns the device and range base owning [addr, addr+len), or nullptr.
  [[nodiscard]] std::shared_ptr<BusDevice> lookup(uint64_t addr, uint64_t len, uint64_t* base) const;

  mutable std::shared_mutex mutex_;
  std::map<uint64_t, Range> ranges_;
};

}  // namespace tide::dev
