// From a guest's definition (GuestConfig: <memballoon>, <currentMemory>, tide's JSON, CH's
// vm.create) to the machine's balloon device (MachineBalloon). Pure.
#pragma once

#include <optional>

#include "guestmm/base/error.hpp"
#include "vmm/config/guest_config.hpp"
#include "vmm/machine/machine.hpp"

namespace tide::vmm {

// nullopt when the definition has no balloon. Errors: <currentMemory> above <memory>.
// The balloon starts at memory - currentMemory (4 KiB pages). MUST_TELL_HOST is always
// offered; DEFLATE_ON_OOM with autodeflate, PAGE_REPORTING with freePageReporting, the
// stats queue always (asked for fresh figures every stats period, if one is set).
[[nodiscard]] Result<std::optional<MachineBalloon>> machine_balloon(const GuestConfig& config);

}  // namespace tide::vmm
