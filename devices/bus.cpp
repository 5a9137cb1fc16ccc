#include "devices/bus.hpp"

#include <algorithm>
#include <mutex>

#include "guestmm/base/log.hpp"

namespace tide::dev {

Status Bus::insert(uint64_t base, uint64_t len, std::shared_ptr<BusDevice> device) {
  if (len == 0 || base + len < base || !device) {
    return make_error(std::errc::invalid_argument, log::strf("bad bus range 0x%llx+0x%llx",
                      static_cast<unsigned long long>(base), static_cast<unsigned long long>(len)));
  }
  std::unique_lock lock(mutex_);
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first < base + len) {
    return make_error(std::errc::invalid_argument, log::strf("bus range 0x%llx+0x%llx overlaps 0x%llx",
                      static_cast<unsigned long long>(base), static_cast<unsigned long long>(len),
                      static_cast<unsigned long long>(next->first)));
  }
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.len > base) {
      return make_error(std::errc::invalid_argument, log::strf("bus range 0x%llx+0x%llx overlaps 0x%llx",
                        static_cast<unsigned long long>(base), static_cast<unsigned long long>(len),
                        static_cast<unsigned long long>(prev->first)));
    }
  }
  ranges_.emplace(base, Range{len, std::move(device)});
  return ok();
}

bool Bus::remove(uint64_t base) {
  std::unique_lock lock(mutex_);
  return ranges_.erase(base) == 1;
}

std::shared_ptr<BusDevice> Bus::lookup(uint64_t addr, uint64_t len, uint64_t* base) const {
  std::shared_lock lock(mutex_);
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return nullptr;
  --it;
  uint64_t off = addr - it->first;
  if (off >= it->second.len || len > it->second.len - off) return nullptr;
  *base = it->first;
  return it->second.device;
}

bool Bus::read(uint64_t addr, std::span<uint8_t> data) const {
  uint64_t base = 0;
  auto dev = lookup(addr, data.size(), &base);
  if (!dev) {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    return false;
  }
  dev->read(base, addr - base, data);
  return true;
}

bool Bus::write(uint64_t addr, std::span<const uint8_t> data) const {
  uint64_t base = 0;
  auto dev = lookup(addr, data.size(), &base);
  if (!dev) return false;
  dev->write(base, addr - base, data);
  return true;
}

}  // namespace tide::dev
