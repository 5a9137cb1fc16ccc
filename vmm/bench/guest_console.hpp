// Reading tideguest's console while the balloon experiment waits for it: the script's
// last command, and whether the guest has got there. Pure.
#pragma once

#include <string>

namespace tide::vmm::bench {

// The last command of a tide.run script ("memtouch 900M seq 1; serve" -> "serve"), trimmed.
[[nodiscard]] std::string last_command(const std::string& script);

enum class GuestProgress {
  waiting,          // not there yet
  serving,          // echoed `last` after READY (and, for serve, reported the balloon)
  unknown_command,  // this tideguest does not know `last`'s command
};
// tideguest echoes each command ("> cmd") before running it; serve then prints
// "balloon: reached target=0 actual=0" (the balloon it starts at), which means the driver
// is up and following.
[[nodiscard]] GuestProgress guest_progress(const std::string& console, const std::string& last);

}  // namespace tide::vmm::bench
