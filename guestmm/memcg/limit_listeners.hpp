// LimitListeners: the "limit raised" hook. Faulters throttled at a node's max or high (or
// swap-outs refused at swap.max) wait for room; whoever raises that limit notifies here,
// and a listener wakes its waiters (typically by signalling a condition variable).
// A raise is: max, high or swap.max written with a larger value, and a failed lowering of
// max put back to its old value (the lower value was in force while set_max reclaimed).
// Thread-safety: add/remove/notify from any thread. Listeners run on the notifying thread
// (the control plane), under this object's own mutex and no tree lock: they may read or
// charge the tree, but must not add or remove listeners nor change tree settings.
// remove() waits for a notification in progress, so once it returns the listener is never
// called again (safe to destroy what it captures).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "guestmm/memcg/memcg_limits.hpp"
#include "guestmm/memcg/memcg_types.hpp"

namespace tide::gmm::memcg {

struct LimitRaise {
  MemcgId node;
  Limit limit = Limit::max;
  uint64_t old_pages = 0;
  uint64_t new_pages = 0;  // > old_pages
};

class LimitListeners {
 public:
  using Fn = std::function<void(const LimitRaise&)>;
  using Handle = uint64_t;

  LimitListeners() = default;
  LimitListeners(const LimitListeners&) = delete;
  LimitListeners& operator=(const LimitListeners&) = delete;

  // Registers `fn`; the handle removes it. Handles are never 0.
  [[nodiscard]] Handle add(Fn fn);
  // Unregisters; false if the handle is unknown (already removed).
  bool remove(Handle handle);
  // Calls every listener with `raise`, in registration order.
  void notify(const LimitRaise& raise);
  [[nodiscard]] size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<Handle, Fn>> listeners_;
  Handle next_ = 1;
};

}  // namespace tide::gmm::memcg
