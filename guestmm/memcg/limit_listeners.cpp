#include "guestmm/memcg/limit_listeners.hpp"

#include <algorithm>

namespace tide::gmm::memcg {

LimitListeners::Handle LimitListeners::add(Fn fn) {
  std::lock_guard l(mutex_);
  const Handle h = next_++;
  listeners_.emplace_back(h, std::move(fn));
  return h;
}

bool LimitListeners::remove(Handle handle) {
  std::lock_guard l(mutex_);
  auto it = std::find_if(listeners_.begin(), listeners_.end(), [&](const auto& p) { return p.first == handle; });
  if (it == listeners_.end()) return false;
  listeners_.erase(it);
  return true;
}

void LimitListeners::notify(const LimitRaise& raise) {
  // Held across the calls so that remove() returning means "never called again".
  std::lock_guard l(mutex_);
  for (const auto& [handle, fn] : listeners_) fn(raise);
}

size_t LimitListeners::size() const {
  std::lock_guard l(mutex_);
  return listeners_.size();
}

}  // namespace tide::gmm::memcg
