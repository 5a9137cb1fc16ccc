#include "devices/platform/test_hooks.hpp"

#include <algorithm>
#include <cstring>

#include "guestmm/base/log.hpp"

namespace tide::dev {
namespace {

uint32_t le32(std::span<const uint8_t> d) {
  uint32_t v = 0;
  std::memcpy(&v, d.data(), std::min<size_t>(d.size(), 4));
  return v;
}

void put(std::span<uint8_t> out, uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  std::fill(out.begin(), out.end(), uint8_t{0});
  std::memcpy(out.data(), b, std::min<size_t>(out.size(), 4));
}

}  // namespace

void TestHooks::read(uint64_t, uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard l(mutex_);
  put(data, offset == 0 ? kSignature : offset == 4 ? last_result_ : 0);
}

void TestHooks::write(uint64_t, uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 4) return;  // the protocol is 32-bit only
  std::lock_guard l(mutex_);
  if (offset == 0) {
    gfn_ = le32(data);
  } else if (offset == 4) {
    auto r = release_(gfn_, le32(data));
    releases_.fetch_add(1, std::memory_order_relaxed);
    if (r) {
      last_result_ = static_cast<uint32_t>(std::min<uint64_t>(*r, kRefused - 1));
    } else {
      last_result_ = kRefused;
      log::warn("test hook: release refused: %s", r.error().message().c_str());
    }
  }
}

}  // namespace tide::dev
