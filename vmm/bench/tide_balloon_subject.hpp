// TideBalloonSubject: tide itself under the balloon experiment — a Machine in this process
// over its own pool, tideguest serving the balloon, targets set on the device, samples from
// the device (`actual`) and guestmm (resident frames, pool free).
#pragma once

#include <memory>

#include "vmm/bench/balloon_subject.hpp"

namespace tide::vmm::bench {

[[nodiscard]] std::unique_ptr<BalloonSubject> make_tide_balloon_subject();

}  // namespace tide::vmm::bench
