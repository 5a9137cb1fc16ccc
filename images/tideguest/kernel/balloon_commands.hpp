// The balloon's part of the command language (README.md has the reference):
//   balloon [wait [MS] | report | compact | hostile [all|safe|KIND,...]] | serve [MS] |
//   memhold SIZE | memdrop | memfrag SIZE
// and the boot-time probe of the virtio-balloon device.
#pragma once

#include "kernel/commands.hpp"
#include "lib/text.hpp"

namespace tg {

// Reads tide.balloon= and tide.balloon_report_ms= and brings up the device if there is
// one. Runs after TIDEGUEST READY, so it never delays the boot line.
void balloon_boot(const char* cmdline);
// The line `info` adds: "info: balloon=yes|no features=0x..."
void balloon_info_line();
// A service point between commands.
void balloon_between_commands();

CommandResult cmd_balloon(lib::Text args);
CommandResult cmd_serve(lib::Text args);
CommandResult cmd_memhold(lib::Text args);
CommandResult cmd_memdrop(lib::Text args);
CommandResult cmd_memfrag(lib::Text args);

}  // namespace tg
