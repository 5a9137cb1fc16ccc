#include "vmm/host/balloon_setup.hpp"

#include "guestmm/base/log.hpp"

namespace tide::vmm {

Result<std::optional<MachineBalloon>> machine_balloon(const GuestConfig& config) {
  const uint64_t memory = gmm::align_up(config.memory_bytes, gmm::kPageSize);
  const uint64_t current = config.current_memory_bytes.value_or(memory);
  if (current > memory) {
    return make_error(std::errc::invalid_argument,
                      log::strf("%s: current memory (%llu KiB) is larger than memory (%llu KiB)", config.name.c_str(),
                                static_cast<unsigned long long>(current >> 10),
                                static_cast<unsigned long long>(memory >> 10)));
  }
  if (!config.balloon.enabled) {
    // In whole pages, as the balloon would start: memory is rounded up, currentMemory not.
    if (gmm::align_down(memory - current, gmm::kPageSize) != 0) {
      return make_error(std::errc::invalid_argument,
                        config.name + ": current memory below memory needs a balloon (memballoon model='none')");
    }
    return std::optional<MachineBalloon>();
  }
  MachineBalloon b;
  b.features.must_tell_host = true;
  b.features.stats = true;
  b.features.deflate_on_oom = config.balloon.autodeflate;
  b.features.reporting = config.balloon.free_page_reporting;
  b.initial_target_bytes = gmm::align_down(memory - current, gmm::kPageSize);
  b.control.stats_period_s = config.balloon.stats_period_s;
  return std::optional<MachineBalloon>(b);
}

}  // namespace tide::vmm
