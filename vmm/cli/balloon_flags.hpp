// `tide run`'s balloon flags: --balloon FEATURES|none, --current-memory SIZE,
// --balloon-stats-period S, --balloon-auto MARGIN. Pure.
#pragma once

#include <cstdint>
#include <optional>

#include "guestmm/base/error.hpp"
#include "vmm/cli/args.hpp"
#include "vmm/machine/machine.hpp"

namespace tide::vmm {

// The flags' balloon (default: must-tell-host, stats every second, free page reporting),
// or nullopt for --balloon none. Errors name the flag.
[[nodiscard]] Result<std::optional<MachineBalloon>> balloon_from_flags(const Args& args, uint64_t memory_bytes);
// Whether any balloon flag was given (a kernel memory backend refuses them).
[[nodiscard]] bool balloon_flags_given(const Args& args);

}  // namespace tide::vmm
