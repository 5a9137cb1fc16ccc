// The command language. The kernel command line's `tide.run=` value (optionally in
// double quotes) is a script of commands separated by ';'; without it the script is
// "info; exit 0". Each command is echoed as "> cmd" before it runs, so the console log
// reads as a transcript. A script that ends without `exit` exits with status 0.
#pragma once

#include "lib/text.hpp"

namespace tg {

inline constexpr const char* kDefaultScript = "info; exit 0";

// The tide.run value in `cmdline`, or kDefaultScript.
lib::Text find_script(const char* cmdline);
// Parameter `name` ("tide.apic") from the command line: its value, or an empty text.
lib::Text find_parameter(const char* cmdline, lib::Text name);
[[noreturn]] void run_script(lib::Text script);

}  // namespace tg
